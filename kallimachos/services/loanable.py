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
    """``(library_code, item) -> bool`` under the owning library's policy.

    The answer depends only on the library and six facts of the copy, which take a few
    dozen combinations in a whole catalogue, so each combination is worked out once (a
    search page asks for about a hundred copies).
    """
    members = {member.code: member for member in policies.members}
    known: dict[tuple[str, str, str, bool, bool, bool, bool], bool] = {}

    def loanable(library_code: str, item: Item) -> bool:
        key = (
            library_code,
            item.collection,
            item.status,
            item.high_demand,
            item.damaged,
            item.unprocessed,
            item.not_for_loan,
        )
        answer = known.get(key)
        if answer is None:
            member = members.get(library_code)
            answer = member is not None and loanability(member, copy_facts(item)).loanable
            known[key] = answer
        return answer

    return loanable
