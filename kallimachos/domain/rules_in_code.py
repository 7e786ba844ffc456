"""Rules that are procedures, not values, and so have no key in any policy file.

Every other RULES.md ID is named by a ``rule``/``rules`` entry in ``policies/*.toml``, next to
the values that implement it; ``tests/unit/test_rule_coverage.py`` checks that each ID is in
exactly one of the two places. A rule with a number, a list or a switch belongs in the data.
"""

ENFORCED_IN_CODE: dict[str, str] = {
    "CONS-1": (
        "kallimachos/indexer/clustering.py merges the records of the same edition from every "
        "library into one Work, and kallimachos/search/ returns it as one result listing each "
        "library's copies, with live availability loaded from the database."
    ),
    "CONS-2": (
        "kallimachos/domain/request_routing.py ranks the sources of a request in the fixed "
        "order own branch, other branch, partner library, external supplier, applying each "
        "source's policy data to decide whether it is possible."
    ),
    "CONS-3": (
        "kallimachos/domain/ill_states.py derives the requesting library's and the patron's "
        "due dates, renewals and recalls from the supplier's answer, never the other way round."
    ),
    "UOC-4c": (
        "kallimachos/domain/holds.py serves a hold queue strictly in the order the holds were "
        "placed (date and time)."
    ),
    "TUC-ILL-4": (
        "kallimachos/domain/ill_states.py emits a patron notification event on the transition "
        "into the received state."
    ),
    "TUC-ILL-5": (
        "kallimachos/domain/ill_states.py takes the loan period of a borrowed item from the "
        "lending library's due date (its supplying terms or its answer), never from the "
        "borrowing library's own categories."
    ),
}
