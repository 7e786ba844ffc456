"""How much one GraphQL request may ask for: a node-count (cost) limit, checked statically.

:class:`CostLimitRule` is a graphql-core validation rule in the manner of GitHub's node
limit: it walks each operation before anything runs and counts the objects the response
could hold, multiplying down the tree:

* a connection (a field with a ``first`` argument returning ``...Connection``) returns up
  to ``first`` edges: the literal value clamped to 1..:data:`MAX_PAGE`, the argument's
  default when omitted, and :data:`MAX_PAGE` when it comes from a variable (validation
  runs once per document, before variables are known);
* any other list of objects is assumed to hold :data:`DEFAULT_LIST_SIZE` (or the estimate
  in :data:`LIST_SIZES`);
* a single object counts 1; scalars and introspection (``__schema``, ``__type``) are free.

A request whose count passes :data:`MAX_NODES` is refused with ``QUERY_TOO_COMPLEX``
before any resolver runs.  The rule is a plain class defined once at import, so the
tuple of validation rules is the same on every request and strawberry's
``ValidationCache`` keeps hitting (shared/notes/graphql-perf.md §2.5).

Fragments are costed once per (fragment, type, page) and cycles count nothing (graphql's
own ``NoFragmentCyclesRule`` reports them), so a hostile document cannot make the rule
itself slow; counts saturate at :data:`SATURATED`.

:class:`SignInToChange` refuses every mutation from an anonymous caller before any resolver
runs (``UNAUTHENTICATED``): anonymous access is the catalogue only, and a mutation that
forgot its own check, or that says "not found" before "forbidden", is closed to the
anonymous public all the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
    get_named_type,
    is_composite_type,
)
from graphql.pyutils import Undefined
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from kallimachos.domain.actors import ActorKind

MAX_NODES = 50_000
"""The most objects one request may ask for."""
MAX_PAGE = 100
"""The largest ``first`` a connection accepts (``search`` refuses more at run time)."""
DEFAULT_LIST_SIZE = 10
"""What a list of objects without pagination is assumed to hold."""
LIST_SIZES: dict[str, int] = {
    "Query.libraries": 12,  # the members and the external suppliers
}
"""Estimates for particular list fields, keyed ``Type.field``."""
MAX_WALK_DEPTH = 64
"""Nesting beyond this is not walked (the depth limit refuses such documents anyway)."""
SATURATED = MAX_NODES * 1000
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
UNAUTHENTICATED = "UNAUTHENTICATED"

_EDGE_FIELDS = frozenset({"edges", "nodes"})


def _is_list(type_: GraphQLOutputType) -> bool:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def _is_connection(type_: Any) -> bool:
    return isinstance(type_, GraphQLObjectType) and type_.name.endswith("Connection")


class CostLimitRule(ValidationRule):
    """Refuse an operation that could return more than :data:`MAX_NODES` objects."""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._fragment_costs: dict[tuple[str, str, int | None], int] = {}
        self._in_progress: set[tuple[str, str, int | None]] = set()

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
        root = self.context.schema.get_root_type(node.operation)
        if root is None:
            return
        cost = self._cost(node.selection_set, root, None, 0)
        if cost > MAX_NODES:
            name = node.name.value if node.name else "anonymous"
            shown = f"{cost:,}" if cost < SATURATED else f"over {SATURATED:,}"
            self.report_error(
                GraphQLError(
                    f"operation '{name}' could return {shown} objects; the limit is "
                    f"{MAX_NODES:,}: ask for smaller pages (first) or fewer nested lists",
                    node,
                    extensions={"code": QUERY_TOO_COMPLEX, "cost": min(cost, SATURATED)},
                )
            )

    def cost_of(self, node: OperationDefinitionNode) -> int:
        """The count for one operation (for tests and reporting)."""
        root = self.context.schema.get_root_type(node.operation)
        return 0 if root is None else self._cost(node.selection_set, root, None, 0)

    def _cost(
        self, selection_set: SelectionSetNode | None, parent: Any, page: int | None, depth: int
    ) -> int:
        """Objects under ``selection_set`` per one ``parent`` object."""
        if selection_set is None or depth > MAX_WALK_DEPTH:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field_cost(selection, parent, page, depth)
            elif isinstance(selection, InlineFragmentNode):
                target = parent
                if selection.type_condition is not None:
                    target = self.context.schema.get_type(selection.type_condition.name.value)
                if is_composite_type(target):
                    total += self._cost(selection.selection_set, target, page, depth + 1)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._spread_cost(selection, page, depth)
            if total >= SATURATED:
                return SATURATED
        return total

    def _field_cost(self, node: FieldNode, parent: Any, page: int | None, depth: int) -> int:
        name = node.name.value
        if name.startswith("__") or not isinstance(
            parent, GraphQLObjectType | GraphQLInterfaceType
        ):
            return 0
        field = parent.fields.get(name)
        if field is None:
            return 0
        named = get_named_type(field.type)
        if not is_composite_type(named):
            return 0
        child_page = None
        if _is_connection(named) and "first" in field.args:
            size = 1
            child_page = self._first(node, field.args["first"].default_value)
        elif _is_connection(parent) and name in _EDGE_FIELDS and page is not None:
            size = page
        elif _is_list(field.type):
            size = LIST_SIZES.get(f"{parent.name}.{name}", DEFAULT_LIST_SIZE)
        else:
            size = 1
        below = self._cost(node.selection_set, named, child_page, depth + 1)
        return min(size * (1 + below), SATURATED)

    def _spread_cost(self, node: FragmentSpreadNode, page: int | None, depth: int) -> int:
        fragment = self.context.get_fragment(node.name.value)
        if fragment is None:
            return 0
        target = self.context.schema.get_type(fragment.type_condition.name.value)
        if not is_composite_type(target):
            return 0
        key = (fragment.name.value, getattr(target, "name", ""), page)
        if key in self._fragment_costs:
            return self._fragment_costs[key]
        if key in self._in_progress:  # a cycle: NoFragmentCyclesRule reports it
            return 0
        self._in_progress.add(key)
        cost = self._cost(fragment.selection_set, target, page, depth + 1)
        self._in_progress.discard(key)
        self._fragment_costs[key] = cost
        return cost

    @staticmethod
    def _first(node: FieldNode, default: Any) -> int:
        value: Any = default if default is not Undefined else MAX_PAGE
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            if isinstance(argument.value, IntValueNode):
                value = int(argument.value.value)
            elif isinstance(argument.value, VariableNode):
                value = MAX_PAGE
        page = value if isinstance(value, int) else MAX_PAGE
        return max(1, min(page, MAX_PAGE))


class SignInToChange(SchemaExtension):
    """Anonymous callers may read the catalogue; every mutation needs a signed-in actor."""

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        actor = getattr(execution.context, "actor", None)
        if actor is not None and actor.kind is ActorKind.ANONYMOUS and not execution.result:
            try:
                operation = execution.operation_type
            except RuntimeError:  # no such operation: graphql reports it
                operation = None
            if operation is OperationType.MUTATION:
                execution.result = GraphQLExecutionResult(
                    data=None,
                    errors=[
                        GraphQLError(
                            "sign in to make changes: send 'Authorization: Bearer <token>'",
                            extensions={"code": UNAUTHENTICATED},
                        )
                    ],
                )
        yield
