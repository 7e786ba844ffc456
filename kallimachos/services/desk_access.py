"""Who may work a library's desk: its staff (at their own branch, if the token names one)."""

from __future__ import annotations

from kallimachos.domain.actors import Actor, ActorKind


def may_act_at_desk(actor: Actor, library_code: str, branch_code: str | None = None) -> bool:
    """Admins anywhere; staff of the library, at their own branch when the token names one."""
    if actor.kind is ActorKind.ADMIN:
        return True
    if actor.kind is not ActorKind.STAFF or actor.library != library_code:
        return False
    return actor.branch is None or branch_code is None or actor.branch == branch_code


def may_act_for_patron(actor: Actor, patron_card: str, library_code: str) -> bool:
    """The patron themself, their library's staff, or an admin."""
    if actor.kind is ActorKind.PATRON:
        return actor.card_number == patron_card
    if actor.kind is ActorKind.STAFF:
        return actor.library == library_code
    return actor.kind is ActorKind.ADMIN
