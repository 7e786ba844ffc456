"""The GraphQL schema: one object built at import, with its limits built once.

Validation rules are constructed a single time so strawberry's ``ValidationCache`` keeps
hitting (strawberry#4635; shared/notes/graphql-perf.md §2.5): depth, aliases and the
node-count cost rule (``kallimachos.schema.limits``).  The token limit applies at parse time.
Introspection stays on: the schema is public (``schema.graphql``).
"""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from kallimachos.schema.fast_execution import FastExecutionContext
from kallimachos.schema.limits import CostLimitRule, SignInToChange
from kallimachos.schema.mutations import Mutation
from kallimachos.schema.queries import Query
from kallimachos.schema.subscriptions import Subscription

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 5000

_RULES = [
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
    CostLimitRule,
]


class QueryLimits(AddValidationRules):
    """Depth, alias and cost limits, with rule classes shared by every request."""

    def __init__(self) -> None:
        super().__init__(_RULES)


def _parser_cache() -> ParserCache:
    return ParserCache(maxsize=1024)


def _validation_cache() -> ValidationCache:
    return ValidationCache(maxsize=1024)


def _token_limiter() -> MaxTokensLimiter:
    return MaxTokensLimiter(max_token_count=MAX_TOKENS)


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    config=StrawberryConfig(relay_max_results=100),
    extensions=[
        _parser_cache,
        _validation_cache,
        QueryLimits,
        _token_limiter,
        SignInToChange,
    ],
    execution_context_class=FastExecutionContext,
)
