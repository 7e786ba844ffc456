"""Bind the pure loanability rule to stored copies and the loaded policies."""

from __future__ import annotations

from kallimachos.db.models import Item
from kallimachos.domain.loanability import CopyFacts, loanability
from kallimachos.indexer.documents import ItemLoanable
from kallimachos.policies import PolicySet


def copy_facts(item: Item) -> CopyFacts:
    return CopyFacts(
        collection=item.collection,
        status=item.status,
        high_demand=item.high_demand,
        damaged=item.damaged,
        unprocessed=item.unprocessed,
        not_for_loan=item.not_for_loan,
    )


def item_loanable(policies: PolicySet) -> ItemLoanable:
    """``(library_code, item) -> bool`` under the owning library's policy."""
    members = {member.code: member for member in policies.members}

    def loanable(library_code: str, item: Item) -> bool:
        member = members.get(library_code)
        return member is not None and loanability(member, copy_facts(item)).loanable

    return loanable
