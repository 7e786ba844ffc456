"""Libraries and branches by id, kept for the life of the process.

A search page names the owning library of every holding and the branch of every copy:
about a hundred lookups of the same dozen rows.  Those rows change only when
``kallimachos init`` synchronises the policy files, which a running server picks up on
restart like the policies themselves (ADR 0007), so each process keeps them.  An id it has
not seen yet (a library added after start) is loaded once through the request's loader.

Lookups return the object itself when it is known, and an awaitable otherwise, so that a
plain (synchronous) resolver can use them: graphql-core awaits what a resolver returns
when it is awaitable, and skips the cost of an async resolver when it is not.  The
``known_*`` lookups serve the compiled plans of :mod:`kallimachos.schema.fast_execution`.
"""

from __future__ import annotations

from collections.abc import Awaitable

from kallimachos.schema.context import Info
from kallimachos.schema.types import Branch, Library


class Directory:
    """The GraphQL ``Library`` and ``Branch`` objects of this process, by database id."""

    def __init__(self) -> None:
        self._libraries: dict[int, Library] = {}
        self._branches: dict[int, Branch] = {}

    def known_library(self, library_id: int) -> Library | None:
        return self._libraries.get(library_id)

    def known_branch(self, branch_id: int) -> Branch | None:
        return self._branches.get(branch_id)

    def library(self, library_id: int, info: Info) -> Library | Awaitable[Library]:
        found = self._libraries.get(library_id)
        return found if found is not None else self._load_library(library_id, info)

    def branch(self, branch_id: int, info: Info) -> Branch | Awaitable[Branch]:
        found = self._branches.get(branch_id)
        return found if found is not None else self._load_branch(branch_id, info)

    async def _load_library(self, library_id: int, info: Info) -> Library:
        row = await info.context.loaders.library.load(library_id)
        if row is None:
            raise LookupError(f"library {library_id} does not exist")
        library = self._libraries[library_id] = Library.from_row(row)
        return library

    async def _load_branch(self, branch_id: int, info: Info) -> Branch:
        row = await info.context.loaders.branch.load(branch_id)
        if row is None:
            raise LookupError(f"branch {branch_id} does not exist")
        branch = self._branches[branch_id] = Branch.from_row(row)
        return branch
