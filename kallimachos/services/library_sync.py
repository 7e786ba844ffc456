"""Make the libraries and branches in the database match the policy files.

``kallimachos init`` calls this after migrating: a library or branch added to a policy
file appears; names are updated; nothing is deleted (items and loans point at them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kallimachos.db.models import Branch, Library
from kallimachos.domain.actors import Actor
from kallimachos.services.events import record_event


class Names(Protocol):
    @property
    def el(self) -> str: ...
    @property
    def en(self) -> str: ...


class BranchSpec(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> Names: ...


class LibrarySpec(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> Names: ...
    @property
    def country(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def branches(self) -> Sequence[BranchSpec]: ...


@dataclass(frozen=True)
class SyncSummary:
    libraries_created: int
    branches_created: int


async def sync_libraries(
    session: AsyncSession, specs: Sequence[LibrarySpec], *, actor: Actor, now: datetime
) -> SyncSummary:
    """Insert or update every library and branch named in ``specs``."""
    libraries = {lib.code: lib for lib in await session.scalars(select(Library))}
    branches = {b.code: b for b in await session.scalars(select(Branch))}
    new_libraries = new_branches = 0
    for spec in specs:
        library = libraries.get(spec.code)
        if library is None:
            library = Library(code=spec.code)
            session.add(library)
            new_libraries += 1
        library.name = spec.name.en
        library.name_el = spec.name.el
        library.country = spec.country
        library.role = str(spec.role)
        library.currency = spec.currency
        await session.flush()
        for branch_spec in spec.branches:
            branch = branches.get(branch_spec.code)
            if branch is None:
                branch = Branch(code=branch_spec.code, library_id=library.id)
                session.add(branch)
                new_branches += 1
            elif branch.library_id != library.id:
                raise ValueError(f"branch {branch_spec.code} already belongs to another library")
            branch.name = branch_spec.name.en
    if new_libraries or new_branches:
        record_event(
            session,
            actor=actor,
            now=now,
            recorded_at=now,
            aggregate_type="consortium",
            aggregate_id=0,
            kind="libraries.synced",
            payload={"libraries_created": new_libraries, "branches_created": new_branches},
        )
    return SyncSummary(libraries_created=new_libraries, branches_created=new_branches)
