"""Errors that reach clients as top-level GraphQL errors, each with a stable ``code``.

Business refusals are *not* here: mutations return them as ``userErrors`` with the
RULES.md ID that refused.  These are for requests the API itself rejects::

    ApiError
    ├── Forbidden        (FORBIDDEN)           the actor may not see or do this
    ├── InvalidArgument  (BAD_USER_INPUT)      an argument is out of range or malformed
    └── SearchFailed     (SEARCH_UNAVAILABLE)  the search engine cannot be reached
"""

from __future__ import annotations

from graphql import GraphQLError


class ApiError(GraphQLError):
    code = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": self.code})


class Forbidden(ApiError):
    code = "FORBIDDEN"


class InvalidArgument(ApiError):
    code = "BAD_USER_INPUT"


class SearchFailed(ApiError):
    """The catalogue search engine is down; circulation is unaffected."""

    code = "SEARCH_UNAVAILABLE"
