"""What every resolver receives: the actor, business time, loaders and the service parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from kallimachos.api.settings import Settings
from kallimachos.domain.actors import Actor
from kallimachos.domain.clock import Clock
from kallimachos.indexer.documents import ItemLoanable
from kallimachos.policies import PolicySet
from kallimachos.schema.loaders import Loaders
from kallimachos.search.backend import SearchBackend

if TYPE_CHECKING:
    from kallimachos.schema.directory import Directory


def _new_directory() -> Directory:
    from kallimachos.schema.directory import Directory  # it builds schema types: import late

    return Directory()


@dataclass
class Services:
    """Long-lived parts opened by the application lifespan."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    search: SearchBackend
    clock: Clock
    policies: PolicySet
    loanable: ItemLoanable
    library_codes: dict[int, str] = field(default_factory=dict)
    directory: Directory = field(default_factory=_new_directory)


@dataclass
class Context:
    request: Request | None
    response: Response | None
    actor: Actor
    now: datetime
    services: Services
    loaders: Loaders


Info = StrawberryInfo[Context, None]
