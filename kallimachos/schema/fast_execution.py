"""graphql-core's executor with a compiled shortcut through plain fields.

graphql-core completes every field on its own: resolve info, the resolver wrapper, the
awaitable checks, then serialisation — about 10 µs a field, so a search page of about a
thousand fields spent most of its time there (docs/performance.md).  For an object whose
selected fields are all *plain*, this execution context instead builds the result with a
plan compiled once per execution for each (type, selection):

* a field without a resolver is read as an attribute;
* a field with a resolver is plain only when it declares a :data:`FAST` getter (it reads
  something already at hand, such as prefetched holdings, and says :data:`NOT_READY`
  otherwise) and takes no arguments;
* the relay ``id`` of a type that keeps the default ``resolve_id`` is encoded directly;
* leaves are serialised by their own GraphQL type, lists and nested objects by their plans.

Anything else — arguments, other resolvers, interfaces and unions, ``@defer``, middleware,
and any value that would make an error (``null`` where the schema says non-null, a value a
scalar refuses, a getter that is not ready) — goes through the ordinary executor for that
object, so results and errors are exactly graphql-core's.  Plans only read, so falling
back part-way is safe.  ``tests/unit/schema/test_fast_execution.py`` compares both
executors on the same queries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLString,
    Undefined,
    is_leaf_type,
    is_list_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.relay import GlobalID, Node
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

FAST = "kallimachos.fast"
"""Key of a field's ``metadata`` naming its getter: ``(source, context) -> value``."""

NOT_READY: Any = object()
"""What a :data:`FAST` getter returns when only the field's resolver can answer."""

FastGetter = Callable[[Any, Any], Any]
_Complete = Callable[[Any, Any], Any]
_Plan = Callable[[Any, Any], dict[str, Any]]

_DEFINITION = "strawberry-definition"
# graphql-core's scalars return these Python types unchanged (Int within 32 bits)
_PASS_THROUGH: dict[Any, Any] = {GraphQLString: str, GraphQLInt: int, GraphQLBoolean: bool}
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_PLAIN_DIRECTIVES = frozenset({"skip", "include"})  # already applied when fields are collected
_NODE_ID = Node.__dict__["_id"]  # the relay ``id`` field, as declared on Node
_DEFAULT_RESOLVE_ID = Node.__dict__["resolve_id"].__func__
_DEFAULT_RESOLVE_TYPENAME = Node.__dict__["resolve_typename"].__func__


class _Fallback(Exception):
    """This value needs the ordinary executor."""


def fast(getter: FastGetter) -> dict[str, object]:
    """Field metadata declaring a getter: ``strawberry.field(metadata=fast(...))``."""
    return {FAST: getter}


class FastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with plans for objects made of plain fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (type, id(field details)) -> (the details, kept alive so the id stays theirs; plan)
        self._plans: dict[tuple[GraphQLObjectType, int], tuple[FieldDetailsList, _Plan | None]]
        self._plans = {}

    def collect_and_execute_subfields(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        plan = self._plan(return_type, field_details_list)
        if plan is not None:
            try:
                return plan(result, self.context_value)
            except Exception:  # the ordinary executor makes the real error, if any
                pass
        return super().collect_and_execute_subfields(
            return_type, field_details_list, path, result, position_context
        )

    def _plan(self, return_type: GraphQLObjectType, details: FieldDetailsList) -> _Plan | None:
        key = (return_type, id(details))
        known = self._plans.get(key)
        if known is not None:
            return known[1]
        self._plans[key] = (details, None)  # a type selecting itself again stays ordinary
        wrapped = self.middleware_manager is not None and self.middleware_manager.middlewares
        plan = None if wrapped else self._compile(return_type, details)
        self._plans[key] = (details, plan)
        return plan

    def _compile(self, return_type: GraphQLObjectType, details: FieldDetailsList) -> _Plan | None:
        grouped, new_defer_usages, *_ = self.collect_subfields(return_type, details)
        if new_defer_usages:
            return None
        steps: list[tuple[str, str | None, FastGetter | None, _Complete]] = []
        for response_key, field_details in grouped.items():
            if any(
                d.defer_usage is not None or d.fragment_variable_values is not None
                for d in field_details
            ):
                return None
            node = field_details[0].node
            name = node.name.value
            if name == "__typename":
                steps.append((response_key, None, _constant(return_type.name), _identity))
                continue
            field_def = return_type.fields.get(name)
            if field_def is None or field_def.args or node.arguments:
                return None
            if any(
                d.node.directives
                and any(x.name.value not in _PLAIN_DIRECTIVES for x in d.node.directives)
                for d in field_details
            ):
                return None
            definition = field_def.extensions.get(_DEFINITION)
            attribute = _attribute(definition, field_def)
            getter = None if attribute else _getter(return_type, definition)
            complete = self._completer(field_def.type, field_details)
            if (attribute is None and getter is None) or complete is None:
                return None
            steps.append((response_key, attribute, getter, complete))
        is_type_of = return_type.is_type_of

        def plan(source: Any, context: Any) -> dict[str, Any]:
            # strawberry's own is_type_of checks the object's class and ignores ``info``
            if is_type_of is not None and is_type_of(source, None) is not True:  # type: ignore[arg-type]
                raise _Fallback
            out: dict[str, Any] = {}
            for response_key, attribute, get, complete in steps:
                if attribute is not None:
                    value = getattr(source, attribute)
                else:
                    value = get(source, context)  # type: ignore[misc]
                    if value is NOT_READY:
                        raise _Fallback
                out[response_key] = complete(value, context)
            return out

        return plan

    def _completer(
        self, type_: GraphQLOutputType, field_details: FieldDetailsList
    ) -> _Complete | None:
        """How to complete one value of ``type_``; ``null`` where the schema forbids it and
        anything graphql-core would report as an error raise :class:`_Fallback`."""
        required = isinstance(type_, GraphQLNonNull)
        if isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        if is_leaf_type(type_):
            return _leaf(type_, required)
        if is_list_type(type_):
            item = self._completer(type_.of_type, field_details)
            if item is None:
                return None

            def many(value: Any, context: Any) -> Any:
                if value is None and not required:
                    return None
                if type(value) is not list and type(value) is not tuple:
                    raise _Fallback
                return [item(v, context) for v in value]

            return many
        if is_object_type(type_):
            nested = self._plan(type_, field_details)
            if nested is None:
                return None

            def one(value: Any, context: Any) -> Any:
                if value is None:
                    if required:
                        raise _Fallback
                    return None
                return nested(value, context)  # its type check refuses exceptions too

            return one
        return None  # interfaces and unions pick their type at run time: ordinary path


def _leaf(type_: Any, required: bool) -> _Complete:
    """Serialise with the type itself; values it would return unchanged skip the call."""
    serialize = type_.serialize
    exact = _PASS_THROUGH.get(type_)

    def leaf(value: Any, _context: Any) -> Any:
        if value is None:
            if required:
                raise _Fallback
            return None
        if type(value) is exact and (exact is not int or _INT_MIN <= value <= _INT_MAX):
            return value
        if isinstance(value, Exception):
            raise _Fallback
        serialized = serialize(value)
        if serialized is None or serialized is Undefined:
            raise _Fallback
        return serialized

    return leaf


def _identity(value: Any, _context: Any) -> Any:
    return value


def _constant(value: str) -> FastGetter:
    return lambda _source, _context: value


def _attribute(definition: object, field_def: object) -> str | None:
    """The attribute a field without a resolver reads (strawberry's default resolver)."""
    if isinstance(definition, StrawberryField) and getattr(
        getattr(field_def, "resolve", None), "_is_default", False
    ):
        return definition.python_name
    return None


def _getter(parent: GraphQLObjectType, definition: object) -> FastGetter | None:
    """A declared :data:`FAST` getter, or the relay ``id`` computed as Node computes it."""
    if not isinstance(definition, StrawberryField):
        return None
    declared = definition.metadata.get(FAST) if definition.metadata else None
    if declared is not None:
        return declared  # type: ignore[no-any-return]
    resolver = definition.base_resolver
    if (
        resolver is not None
        and getattr(resolver.wrapped_func, "__func__", None) is _NODE_ID.__func__
    ):
        return _relay_id(parent)
    return None


def _relay_id(parent: GraphQLObjectType) -> FastGetter | None:
    """The relay ``id`` as Node computes it, for types that keep its default resolvers."""
    definition = parent.extensions.get(_DEFINITION)
    origin = getattr(definition, "origin", None)
    if not (isinstance(origin, type) and issubclass(origin, Node)):
        return None
    if (
        origin.resolve_id.__func__ is not _DEFAULT_RESOLVE_ID  # type: ignore[attr-defined]
        or origin.resolve_typename.__func__ is not _DEFAULT_RESOLVE_TYPENAME  # type: ignore[attr-defined]
    ):
        return None
    attr = origin.resolve_id_attr()
    type_name = parent.name

    def relay_id(source: Any, _context: Any) -> Any:
        if not isinstance(source, origin):
            return NOT_READY
        node_id = getattr(source, attr)
        if node_id is None:
            return NOT_READY
        return GlobalID(type_name=type_name, node_id=str(node_id))

    return relay_id
