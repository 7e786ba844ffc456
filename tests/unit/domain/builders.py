"""Plain builders for the facts the domain rules take (``make_*(**overrides)``)."""

from dataclasses import replace
from datetime import date
from typing import Any

from kallimachos.domain.blocks import PatronFacts
from kallimachos.domain.circulation import ItemFacts, LoanFacts
from kallimachos.domain.loanability import CopyFacts
from kallimachos.domain.policy import MemberLibrary

CARD_VALID_UNTIL = date(2030, 12, 31)


def make_patron(category: str, **overrides: Any) -> PatronFacts:
    fields: dict[str, Any] = {"category": category, "card_expires_on": CARD_VALID_UNTIL}
    fields.update(overrides)
    return PatronFacts(**fields)


def make_copy(collection: str = "general", **overrides: Any) -> CopyFacts:
    fields: dict[str, Any] = {"collection": collection, "status": "AVAILABLE"}
    fields.update(overrides)
    return CopyFacts(**fields)


def make_item(collection: str = "general", **overrides: Any) -> ItemFacts:
    item_keys = {"hold_waiting_for_other", "trapped_for_patron"}
    item = {k: v for k, v in overrides.items() if k in item_keys}
    copy = {k: v for k, v in overrides.items() if k not in item_keys}
    return ItemFacts(copy=make_copy(collection, **copy), **item)


def make_loan(checked_out_on: date, due_on: date, **overrides: Any) -> LoanFacts:
    return LoanFacts(checked_out_on=checked_out_on, due_on=due_on, **overrides)


def with_section(library: MemberLibrary, section: str, **changes: Any) -> MemberLibrary:
    """``library`` with some keys of one policy section changed (hand-built cases only)."""
    return replace(library, **{section: replace(getattr(library, section), **changes)})


def with_category(library: MemberLibrary, code: str, **changes: Any) -> MemberLibrary:
    """``library`` with some keys of one patron category changed (hand-built cases only)."""
    categories = dict(library.categories)
    categories[code] = replace(categories[code], **changes)
    return replace(library, categories=categories)
