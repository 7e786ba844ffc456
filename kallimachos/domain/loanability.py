"""May this copy go out on loan at all?  Decided by the owning library's policy.

A copy is not loanable when its collection does not lend (UOC-1b, AEG-2), when one of its
flags forbids lending (AEG-2: high demand while in demand, damaged awaiting conservation,
not yet processed), when the source catalogue marked it not for loan, or when it is lost,
missing or withdrawn.  A copy that is merely out on loan or on the hold shelf is still
loanable (it just is not available now).
"""

from __future__ import annotations

from dataclasses import dataclass

from kallimachos.domain.policy import COLLECTION_CODES, ITEM_FLAGS, MemberLibrary

GONE_STATUSES = frozenset({"LOST", "MISSING", "WITHDRAWN"})


@dataclass(frozen=True)
class CopyFacts:
    """What the rule needs to know about a copy."""

    collection: str
    status: str
    high_demand: bool = False
    damaged: bool = False
    unprocessed: bool = False
    not_for_loan: bool = False


@dataclass(frozen=True)
class Loanability:
    loanable: bool
    reason: str
    rule: str | None = None


LOANABLE = Loanability(True, "loanable")


def loanability(library: MemberLibrary, copy: CopyFacts) -> Loanability:
    """The first reason (in the order a librarian checks them) that stops a loan, if any."""
    if copy.status in GONE_STATUSES:
        return Loanability(False, f"the copy is {copy.status.lower()}")
    if copy.collection not in COLLECTION_CODES:
        return Loanability(False, f"unknown collection {copy.collection!r}")
    collection = library.collections.get(copy.collection)
    if not collection.loanable:
        return Loanability(
            False,
            f"the {copy.collection} collection is not for loan",
            collection.rule_for("loanable"),
        )
    for flag in ITEM_FLAGS:
        if getattr(copy, flag):
            policy = library.item_flags.get(flag)
            if not policy.loanable:
                return Loanability(
                    False,
                    f"the copy is flagged {flag.replace('_', ' ')}",
                    policy.rule_for("loanable"),
                )
    if copy.not_for_loan:
        return Loanability(False, "the owning catalogue marks the copy not for loan")
    return LOANABLE
