"""Production search: an OpenSearch cluster through opensearch-py's async client.

``index`` is always an **alias**.  The physical indices behind it are ``<index>-000001``,
``<index>-000002``, ...: :meth:`OpenSearchBackend.ensure_index` creates the first one with the
alias; :meth:`OpenSearchBackend.rebuild` loads the next one (refresh off, no replicas), restores
the serving settings, swaps the alias in one ``_aliases`` call and deletes the old index.
Searches keep answering from the old index until the swap.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import (
    ConnectionError as OSConnectionError,
)
from opensearchpy.exceptions import (
    NotFoundError,
    OpenSearchException,
    RequestError,
    SerializationError,
    TransportError,
)
from opensearchpy.helpers import async_bulk
from opensearchpy.serializer import JSONSerializer

from kallimachos.search.backend import (
    Availability,
    FacetValue,
    SearchHealth,
    SearchQuery,
    SearchResult,
    SearchUnavailable,
    WorkDocument,
)
from kallimachos.search.opensearch import mapping
from kallimachos.search.opensearch.query import (
    build_search_body,
    document_source,
    parse_facets,
)

log = logging.getLogger(__name__)

MIB = 1024 * 1024
# Statuses that mean "the cluster cannot serve right now", not "the request is wrong".
_UNAVAILABLE_STATUSES = {429, 500, 502, 503, 504}


def _redact(url: str) -> str:
    """The URL without credentials, for messages."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _error_type(exc: TransportError) -> str:
    info = exc.info if isinstance(exc.info, dict) else {}
    error = info.get("error")
    if isinstance(error, dict):
        return str(error.get("type", ""))
    return str(exc.error)


class OpenSearchBackend:
    """Catalogue search on OpenSearch; one index (behind an alias) of works."""

    engine = "opensearch"

    def __init__(
        self,
        url: str,
        index: str,
        *,
        shards: int = mapping.DEFAULT_SHARDS,
        replicas: int | None = None,
        refresh_interval: str = mapping.DEFAULT_REFRESH_INTERVAL,
        timeout: float = 10.0,
        bulk_chunk_bytes: int = 8 * MIB,
        bulk_chunk_docs: int = 10_000,
        bulk_workers: int = 3,
        bulk_timeout: float = 120.0,
    ) -> None:
        """``replicas=None`` means ``auto_expand_replicas: 0-1`` (0 on a single node)."""
        self.url = url
        self.index = index
        self.shards = shards
        self.replicas = replicas
        self.refresh_interval = refresh_interval
        self.bulk_chunk_bytes = bulk_chunk_bytes
        self.bulk_chunk_docs = bulk_chunk_docs
        self.bulk_workers = max(1, bulk_workers)
        self.bulk_timeout = bulk_timeout  # seconds per bulk request (and the health wait)
        self.client: Any = AsyncOpenSearch(
            hosts=[url],
            timeout=timeout,
            max_retries=1,
            retry_on_timeout=False,
            serializer=OrjsonSerializer(),
        )
        self._ready = False
        self._physical = re.compile(rf"^{re.escape(index)}-(\d{{6}})$")

    # ------------------------------------------------------------------ plumbing
    @asynccontextmanager
    async def _guard(self, action: str) -> AsyncIterator[None]:
        """Map "cannot reach / cannot serve" errors to SearchUnavailable with a clear message."""
        where = _redact(self.url)
        try:
            yield
        except OSConnectionError as exc:  # includes ConnectionTimeout
            raise SearchUnavailable(
                f"OpenSearch at {where} is unreachable ({action}): {exc.error or exc}"
            ) from exc
        except NotFoundError as exc:
            if _error_type(exc) == "index_not_found_exception":
                raise SearchUnavailable(
                    f"search index {self.index!r} does not exist on OpenSearch at {where} "
                    "(run `kallimachos index rebuild`)"
                ) from exc
            raise
        except TransportError as exc:
            if exc.status_code in _UNAVAILABLE_STATUSES:
                raise SearchUnavailable(
                    f"OpenSearch at {where} cannot serve {action} "
                    f"(HTTP {exc.status_code} {_error_type(exc)})"
                ) from exc
            raise

    def _physical_name(self, generation: int) -> str:
        return f"{self.index}-{generation:06d}"

    async def _physical_indices(self) -> list[str]:
        """The physical indices of this alias family (``<index>-NNNNNN``), oldest first."""
        found = await self.client.indices.get(
            index=f"{self.index}-*",
            params={"allow_no_indices": "true", "ignore_unavailable": "true"},
        )
        names = [name for name in found if self._physical.match(name)]
        return sorted(names)

    async def _alias_targets(self) -> list[str]:
        """The physical indices the alias points to now (empty when there is no alias)."""
        try:
            found = await self.client.indices.get_alias(name=self.index)
        except NotFoundError:
            return []
        return sorted(found)

    async def _next_name(self) -> str:
        generations = [0]
        for name in await self._physical_indices():
            match = self._physical.match(name)
            if match:
                generations.append(int(match.group(1)))
        return self._physical_name(max(generations) + 1)

    async def _bulk(
        self,
        actions: list[dict[str, Any]],
        *,
        index: str | None = None,
        ignore_missing: bool = False,
    ) -> int:
        """Send actions with async_bulk in ~8 MiB chunks, several chunks in flight at once."""
        if not actions:
            return 0
        target = index or self.index
        for action in actions:
            action["_index"] = target
        workers = min(self.bulk_workers, max(1, len(actions) // self.bulk_chunk_docs + 1))
        # Contiguous partitions; callers never repeat a work id within one call.
        size = -(-len(actions) // workers)
        parts = [actions[i : i + size] for i in range(0, len(actions), size)]
        results = await asyncio.gather(*(self._bulk_part(p, ignore_missing) for p in parts))
        return sum(results)

    async def _bulk_part(self, actions: list[dict[str, Any]], ignore_missing: bool) -> int:
        success, errors = await async_bulk(
            self.client,
            actions,
            chunk_size=self.bulk_chunk_docs,
            max_chunk_bytes=self.bulk_chunk_bytes,
            max_retries=3,  # 429 back-off
            initial_backoff=1,
            raise_on_error=False,  # collect item errors; chunk-level errors still raise
            request_timeout=self.bulk_timeout,
        )
        failures = [
            item
            for item in (errors if isinstance(errors, list) else [])
            if not (ignore_missing and _item_status(item) == 404)
        ]
        if failures:
            raise RuntimeError(
                f"OpenSearch bulk request: {len(failures)} of {len(actions)} actions failed; "
                f"first: {failures[0]}"
            )
        return int(success)

    async def _ensure_ready(self) -> None:
        if not self._ready:
            await self.ensure_index()

    # ------------------------------------------------------------------ protocol
    async def ping(self) -> SearchHealth:
        try:
            info = await self.client.info()
        except (TimeoutError, OpenSearchException, OSError) as exc:
            detail = f"{type(exc).__name__} at {_redact(self.url)}"
            return SearchHealth(ok=False, engine=self.engine, detail=detail)
        version = info.get("version", {}).get("number")
        return SearchHealth(ok=True, engine=self.engine, version=f"OpenSearch {version}")

    async def ensure_index(self) -> None:
        async with self._guard("ensure_index"):
            if await self.client.indices.exists_alias(name=self.index):
                # Fields added to the mapping since the index was made (new fields only;
                # a changed field fails here and needs `kallimachos index rebuild`).
                await self.client.indices.put_mapping(index=self.index, body=mapping.MAPPINGS)
                self._ready = True
                return
            if await self.client.indices.exists(index=self.index):
                # A concrete index under the alias name (made by hand); rebuild replaces it.
                log.warning("search index %s is a concrete index, not an alias", self.index)
                self._ready = True
                return
            name = await self._next_name()
            body = mapping.index_body(
                shards=self.shards,
                replicas=self.replicas,
                refresh_interval=self.refresh_interval,
                alias=self.index,
            )
            try:
                await self.client.indices.create(index=name, body=body)
            except RequestError as exc:
                # Another process created it at the same moment: fine if the alias is there.
                if _error_type(exc) != "resource_already_exists_exception":
                    raise
                if not await self.client.indices.exists_alias(name=self.index):
                    raise
            self._ready = True

    async def index_works(self, documents: Sequence[WorkDocument]) -> None:
        if not documents:
            return
        latest = {doc.work_id: doc for doc in documents}  # the last version of a work wins
        actions = [_index_action(doc) for doc in latest.values()]
        async with self._guard("index_works"):
            await self._ensure_ready()
            await self._bulk(actions)

    async def update_availability(self, updates: Sequence[Availability]) -> None:
        if not updates:
            return
        latest = {u.work_id: u for u in updates}
        actions = [
            {
                "_op_type": "update",
                "_id": str(u.work_id),
                "doc": {
                    "holding_libraries": sorted(set(u.holding_libraries)),
                    "loanable_at": sorted(set(u.loanable_at)),
                    "available_at": sorted(set(u.available_at)),
                },
            }
            for u in latest.values()
        ]
        async with self._guard("update_availability"):
            await self._ensure_ready()
            # A work not in the index yet gets its whole document from the outbox later.
            await self._bulk(actions, ignore_missing=True)

    async def delete_works(self, work_ids: Sequence[int]) -> None:
        if not work_ids:
            return
        actions = [{"_op_type": "delete", "_id": str(w)} for w in sorted(set(work_ids))]
        async with self._guard("delete_works"):
            await self._ensure_ready()
            await self._bulk(actions, ignore_missing=True)

    async def refresh(self) -> None:
        async with self._guard("refresh"):
            await self.client.indices.refresh(index=self.index)

    async def rebuild(self, documents: AsyncIterable[Sequence[WorkDocument]]) -> int:
        async with self._guard("rebuild"):
            new = await self._next_name()
            body = mapping.index_body(
                shards=self.shards, replicas=0, refresh_interval=self.refresh_interval
            )
            body["settings"]["index"].update(mapping.bulk_load_settings()["index"])
            await self.client.indices.create(index=new, body=body)
            started = time.perf_counter()
            try:
                count = await self._load(new, documents)
                await self.client.indices.put_settings(
                    index=new, body=mapping.serving_settings(self.replicas, self.refresh_interval)
                )
                await self.client.indices.refresh(index=new)
                await self.client.cluster.health(
                    index=new,
                    params={"wait_for_status": "yellow", "request_timeout": self.bulk_timeout},
                )
                old = await self._swap(new)
            except BaseException:
                await self._delete_quietly([new])
                raise
            await self._delete_quietly(old)
            self._ready = True
            log.info(
                "search index %s rebuilt as %s: %d works in %.1f s",
                self.index,
                new,
                count,
                time.perf_counter() - started,
            )
            return count

    async def _load(self, index: str, documents: AsyncIterable[Sequence[WorkDocument]]) -> int:
        """Bulk-load batches as they arrive, up to ``bulk_workers`` batches in flight."""
        slots = asyncio.Semaphore(self.bulk_workers)
        pending: set[asyncio.Task[int]] = set()
        count = 0
        try:
            async for batch in documents:
                actions = [_index_action(d) for d in batch]
                if not actions:
                    continue
                await slots.acquire()
                task = asyncio.create_task(self._bulk(actions, index=index))
                task.add_done_callback(lambda _t: slots.release())
                pending.add(task)
                done = {t for t in pending if t.done()}
                for t in done:
                    count += t.result()
                pending -= done
            if pending:
                for result in await asyncio.gather(*pending):
                    count += result
                pending.clear()
        finally:
            for task in pending:
                task.cancel()
        return count

    async def _swap(self, new: str) -> list[str]:
        """Point the alias at ``new`` in one atomic call; returns the indices it left."""
        old = await self._alias_targets()
        actions: list[dict[str, Any]] = [
            {"remove": {"index": name, "alias": self.index}} for name in old
        ]
        if not old and await self.client.indices.exists(index=self.index):
            actions.append({"remove_index": {"index": self.index}})
        actions.append({"add": {"index": new, "alias": self.index}})
        await self.client.indices.update_aliases(body={"actions": actions})
        return old

    async def _delete_quietly(self, names: Iterable[str]) -> None:
        for name in names:
            try:
                await self.client.indices.delete(index=name)
            except (OpenSearchException, OSError) as exc:  # best effort; retried next rebuild
                log.warning("could not delete search index %s: %s", name, exc)

    async def search(self, query: SearchQuery) -> SearchResult:
        body = build_search_body(query)
        async with self._guard("search"):
            response = await self.client.search(index=self.index, body=body)
        hits = response["hits"]
        work_ids = [int(hit["_id"]) for hit in hits["hits"]]
        facets: dict[str, list[FacetValue]] = {}
        if query.with_facets:
            parsed = parse_facets(response.get("aggregations", {}))
            facets = {
                name: [FacetValue(value, count) for value, count in values]
                for name, values in parsed.items()
            }
        return SearchResult(total=int(hits["total"]["value"]), work_ids=work_ids, facets=facets)

    async def close(self) -> None:
        await self.client.close()


class OrjsonSerializer(JSONSerializer):
    """The client's JSON, through orjson: a search response (hits and four facets) decodes
    several times faster than with the standard library."""

    def loads(self, s: str) -> Any:
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError as exc:
            raise SerializationError(s, exc) from exc

    def dumps(self, data: Any) -> Any:
        if isinstance(data, str):
            return data
        try:
            return orjson.dumps(data).decode()
        except TypeError:  # a type orjson does not know: the standard encoder's defaults
            return super().dumps(data)


def _index_action(document: WorkDocument) -> dict[str, Any]:
    """A bulk ``index`` action whose source is already JSON (orjson: the bulk helper passes a
    string through, and the stdlib encoder was the largest cost of a drain after the rows)."""
    source = orjson.dumps(document_source(document)).decode()
    return {"_op_type": "index", "_id": str(document.work_id), "_source": source}


def _item_status(item: Any) -> int | None:
    """The HTTP status of one failed bulk item (``{"update": {"status": 404, ...}}``)."""
    if isinstance(item, dict):
        for value in item.values():
            if isinstance(value, dict) and "status" in value:
                return int(value["status"])
    return None
