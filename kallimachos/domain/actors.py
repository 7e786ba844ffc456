"""Who is asking.  Every request acts as exactly one actor.

* ``ANONYMOUS`` — no valid token: public data only (libraries, the catalogue).
* ``PATRON`` — a reader, by card number: their own loans, holds, fees and requests.
* ``STAFF`` — staff of one library (optionally one branch): that library's patrons and items.
* ``PARTNER`` — a partner library on the supplying side of ILL: requests addressed to it.
* ``ADMIN`` — consortium administrator: everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ActorKind(StrEnum):
    ANONYMOUS = "anonymous"
    PATRON = "patron"
    STAFF = "staff"
    PARTNER = "partner"
    ADMIN = "admin"


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    card_number: str | None = None
    library: str | None = None
    branch: str | None = None
    token_id: str | None = None

    @property
    def ref(self) -> str | None:
        """A short reference for the audit trail (never a secret)."""
        if self.kind is ActorKind.PATRON:
            return self.card_number
        if self.kind in (ActorKind.STAFF, ActorKind.PARTNER):
            return self.branch or self.library
        return None

    def is_staff_of(self, library_code: str) -> bool:
        return self.kind is ActorKind.STAFF and self.library == library_code

    def may_see_patron(self, card_number: str, library_code: str) -> bool:
        """A patron sees themself; staff see their own library's patrons; admin sees all."""
        if self.kind is ActorKind.ADMIN:
            return True
        if self.kind is ActorKind.PATRON:
            return self.card_number == card_number
        return self.is_staff_of(library_code)


ANONYMOUS = Actor(ActorKind.ANONYMOUS)
SYSTEM = Actor(ActorKind.ADMIN, library=None, token_id="system")
