"""``evo_magic.map`` over a Dask DataFrame: rows answered on the workers, recorded in the
notebook's ledger.

:func:`map_dask` checks everything in the notebook first (the template against the frame's
columns, the schema, the options), then returns ``ddf.map_partitions(...)``: a lazy Dask
DataFrame with the same columns as a pandas run's result. Each partition is answered on its
worker by :func:`answer_partition` — the same row template, request bodies and scheduler as in
the kernel, concurrency per partition.

The key. A worker reads ``EVOLINK_API_KEY`` and ``EVOLINK_BASE_URL`` from its own environment
(or its ``.env``), like any evo_magic process: the notebook's key is not in the task graph. A
worker without a key answers every row of its partition with a one-line error. With
``send_key_to_workers=True`` the notebook's key and base URLs travel in the graph instead —
pickled into every task, so to the scheduler and every worker, and to whatever logs or spills
them (no repr shows it). The bundled emulator's endpoint (``%deepseek offline``) always
travels: its key is not a secret.

Recording. Each request a worker sends is described in one event (its key, usage, cost,
timing, the answer's events) that the worker logs on the topic of the run
(``distributed.Worker.log_event``); the notebook subscribed to that topic
(``Client.subscribe_topic``) when it built the graph, and writes every event it receives into
its own ledger as a ``map`` row and into its store of answers — so the requests are recorded
in the notebook's ledger when the result is computed, on whichever workers. Without a
distributed client (Dask's local threads), the partition runs in the kernel and records
directly. The partition function runs the same way under Spark's ``mapInPandas``, with a spec
from :func:`partition_spec` (README); there each executor records into its own ledger.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .. import config
from ..config import KEY_VAR, Endpoint, Secret
from ..core.replay import answer_from_record, answer_record, replayed
from ..core.schema import schema_of
from ..core.usage import Usage
from ..errors import ConfigError, OptionError
from ..ledger.answers import Kept
from ..ledger.pricing import PriceTable, billed_model, cost, load_table
from ..ledger.store import LedgerRow
from .checks import check_concurrency, prepare
from .job import Job, Retry, job_of, map_options
from .record import RunStore
from .results import Answer, columns_of, output_columns, resolve
from .scheduler import RowResult, Scheduler
from .table import result_of, table_of
from .template import compile_template

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger(__name__)
TOPIC = "evo_magic.map"


NO_WORKER_KEY = (f"no API key on this Dask worker: set {KEY_VAR} in the workers' environment, "
                 "or pass send_key_to_workers=True to send the notebook's")  # fmt: skip


@dataclass(frozen=True)
class PartitionSpec:
    """What a worker needs to answer a partition (pickled into the graph). ``key`` and
    ``base_urls`` are None unless the notebook sends them (see the module docstring): the
    worker reads its own."""

    template: str
    schema: Any
    options: dict[str, Any]
    system: str | None
    session: str
    base_urls: tuple[str, ...] | None
    key: str | None = field(repr=False)
    offline: bool
    concurrency: int
    prices: PriceTable
    run_id: str
    topic: str = TOPIC

    def endpoint(self) -> Endpoint:
        """Where this worker sends: the endpoint sent with the graph, else its own environment's
        (ConfigError, one line, without a key)."""
        if self.key is not None and self.base_urls is not None:
            return Endpoint(self.base_urls, Secret(self.key), offline=self.offline)
        found = config.resolve()
        if found.key is None:
            raise ConfigError(NO_WORKER_KEY)
        found.require_key()
        return found

    def __repr__(self) -> str:
        """What it is, without a secret: the base URLs as ``%deepseek config`` shows them (a
        token or key in one masked), whether a key travels, never the key."""
        urls = None if self.base_urls is None else tuple(config.shown_url(u) for u in self.base_urls)
        return (f"PartitionSpec(run_id={self.run_id!r}, session={self.session!r}, "
                f"model={self.options.get('model')!r}, template={self.template!r}, base_urls={urls!r}, "
                f"key={'sent' if self.key is not None else None!r}, offline={self.offline!r}, "
                f"concurrency={self.concurrency!r})")  # fmt: skip

    def __dask_tokenize__(self) -> tuple[str, str]:
        """Dask names the graph's tasks by this (the run), not by hashing the key."""
        return ("evo_magic.map", self.run_id)


@dataclass
class _Collector:
    """The requests a partition sent, as events for the notebook."""

    spec: PartitionSpec
    model: str
    offline: bool
    events: list[dict[str, Any]] = field(default_factory=list)

    def price(self, result: RowResult) -> Decimal | None:
        at = datetime.now(timezone.utc) - timedelta(seconds=result.seconds)
        return cost(result.usage, billed_model(self.model, result.model), at, self.spec.prices)

    def add(self, result: RowResult, price: Decimal | None) -> None:
        u = result.usage
        self.events.append({
            "run": self.spec.run_id, "key": str(result.key), "model": self.model, "answered": result.model,
            "protocol": self.spec.options.get("protocol", "openai"), "session": self.spec.session,
            "usage": None if u is None else [u.prompt_tokens, u.cache_hit_tokens, u.cache_miss_tokens,
                                             u.completion_tokens, u.reasoning_tokens],
            "cost": None if price is None else str(price), "seconds": result.seconds, "ok": result.ok,
            "error": result.error, "finish": result.finish, "offline": self.offline,
            "answer": answer_record(result.snapshot) if result.ok and result.snapshot is not None else None,
        })  # fmt: skip


def answer_partition(frame: Any, spec: PartitionSpec) -> Any:
    """Answer every row of one pandas partition (on a worker); the partition with the result's
    columns. Each request is logged for the notebook (see the module docstring)."""
    schema = schema_of(spec.schema) if spec.schema is not None else None
    table = table_of(frame)
    opts = map_options(_options(spec), schema).validate()
    template = compile_template(spec.template, table.columns)
    job = job_of(template, table.values(template.columns), table.length, opts, schema=schema, system=spec.system,
                 session=spec.session)  # fmt: skip
    try:
        endpoint = spec.endpoint()
    except ConfigError as exc:  # every row of the partition says why, in one line
        return result_of(table, columns_of(job.keys, job.first, {}, schema, exc.one_line()))
    collector = _Collector(spec, opts.model, endpoint.offline)
    answers = _answer(job, spec, endpoint, collector)
    _publish(spec.topic, collector.events)
    return result_of(table, columns_of(job.keys, job.first, answers, schema, "not answered"))


def _options(spec: PartitionSpec) -> Any:
    from ..core.options import RequestOptions

    return RequestOptions(**spec.options)


def _answer(job: Job, spec: PartitionSpec, endpoint: Endpoint, collector: _Collector) -> dict[str, Answer]:
    """Every distinct request of the partition, with one schema retry each when needed."""
    answers: dict[str, Answer] = {}
    rows, tally = Counter(job.keys), _Tally()
    asks: list[tuple[str, int, str, Retry | None]] = [(k, job.first[k], k, None) for k in job.distinct]
    while asks:
        owners = {k: (row, owner, retry) for k, row, owner, retry in asks}
        results = _send(job, spec, endpoint, [(k, job.body(row, retry)) for k, row, _, retry in asks])
        asks = []
        for result in results:
            row, owner, retry = owners[str(result.key)]
            price = collector.price(result) if result.usage is not None else None
            collector.add(result, price)
            answers.setdefault(owner, Answer()).add(result.usage, price if result.usage is not None else Decimal(0))
            again = resolve(answers, job.schema, owner, rows[owner], result.text, result.error, retry is not None,
                            tally)  # fmt: skip
            if again is not None:
                asks.append((job.key(job.body(row, again)), row, owner, again))
    return answers


@dataclass
class _Tally:
    done: int = 0
    failed: int = 0


def _send(job: Job, spec: PartitionSpec, endpoint: Endpoint, rows: list[tuple[str, dict[str, Any]]]) -> list[RowResult]:
    if not rows:
        return []
    got: list[RowResult] = []
    scheduler = Scheduler(endpoint, protocol=job.opts.protocol, concurrency=spec.concurrency)
    asyncio.run(scheduler.run(rows, on_result=got.append))
    if scheduler.summary is not None and scheduler.summary.fatal is not None:
        raise scheduler.summary.fatal
    return got


def _publish(topic: str, events: list[dict[str, Any]]) -> None:
    """Log the events for the notebook: on a distributed worker, on the run's topic; in the
    kernel itself (Dask's local scheduler), straight into the ledger."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        from ..runtime import root

        record(root(), events)
        return
    for event in events:
        worker.log_event(topic, event)


def record(rt: Runtime, events: list[dict[str, Any]]) -> None:
    """Write the workers' request events into the notebook's ledger and store of answers."""
    acc = rt.accounting
    rows: list[tuple[LedgerRow, int | None]] = []
    for e in events:
        usage = None if e["usage"] is None else Usage(*e["usage"])
        at = datetime.now(timezone.utc) - timedelta(seconds=float(e["seconds"]))
        rows.append((LedgerRow(
            notebook=acc.notebook, session=e["session"], model_requested=e["model"], model_answered=e["answered"],
            protocol=e["protocol"], usage=usage, cost=None if e["cost"] is None else Decimal(e["cost"]), at=at,
            origin="map", elapsed=e["seconds"], outcome="ok" if e["ok"] else "error",
            error=None if e["ok"] else "RequestFailed", offline=bool(e["offline"]), request_key=e["key"],
            run_id=e["run"],
        ), None))  # fmt: skip
    ids = acc.ledger.record_many(rows)
    kept = [
        (bool(e["offline"]), Kept(e["key"], replayed(answer_from_record(e["answer"])), e["protocol"],
                                  e["answered"] or e["model"], None if e["cost"] is None else Decimal(e["cost"]),
                                  row_id))
        for e, row_id in zip(events, ids, strict=True) if e["answer"] is not None
    ]  # fmt: skip
    for offline in (False, True):  # the emulator's answers under keys of their own
        RunStore(acc.ledger, offline).put_many(k for o, k in kept if o == offline)


def map_dask(data: Any, template: str, schema: Any, rt: Runtime, *, session: str | None, concurrency: int,
             send_key_to_workers: bool = False, **options: Any) -> Any:  # fmt: skip
    """The lazy Dask DataFrame of the run (see the module docstring)."""
    meta = data._meta
    spec = partition_spec(meta, template, schema, runtime=rt, session=session, concurrency=concurrency,
                          send_key_to_workers=send_key_to_workers, **options)  # fmt: skip
    spec_schema = schema_of(schema) if schema is not None else None
    empty: dict[str, list[Any]] = {c: [] for c in output_columns(spec_schema)}
    out_meta = result_of(table_of(meta), empty)
    _listen(rt, spec.topic)
    return data.map_partitions(answer_partition, spec, meta=out_meta)


def partition_spec(
    meta: Any, template: str, schema: Any = None, *, runtime: Runtime | None = None, session: str | None = None,
    concurrency: int = 32, send_key_to_workers: bool = False, **options: Any,
) -> PartitionSpec:  # fmt: skip
    """What :func:`answer_partition` needs, checked once here (the template against ``meta``'s
    columns — an empty pandas frame of the data's shape —, the schema, every request option):
    for Dask's ``map_partitions`` and Spark's ``mapInPandas``. The key travels only with
    ``send_key_to_workers=True`` (see the module docstring)."""
    import uuid

    from ..runtime import root

    rt = runtime or root()
    check_concurrency(concurrency)
    if not isinstance(send_key_to_workers, bool):
        raise OptionError(f"send_key_to_workers is True or False, not {send_key_to_workers!r}")
    sends = send_key_to_workers or rt.endpoint().offline  # the emulator's key is no secret
    job, endpoint = prepare(rt, table_of(meta), template, schema, session, options, need_key=sends)
    key = endpoint.require_key().reveal() if sends else None
    return PartitionSpec(template, schema, _sent_options(job.opts), job.system, job.session,
                         endpoint.base_urls if sends else None, key, endpoint.offline, concurrency,
                         load_table(overrides=rt.accounting.prices or None), uuid.uuid4().hex[:12])  # fmt: skip


def _sent_options(opts: Any) -> dict[str, Any]:
    import dataclasses

    return {f.name: getattr(opts, f.name) for f in dataclasses.fields(opts)}


def _listen(rt: Runtime, topic: str) -> None:
    """Subscribe the notebook's distributed client (if any) to the workers' request events."""
    try:
        from distributed import default_client

        client = default_client()  # type: ignore[no-untyped-call]
    except (ImportError, ValueError):
        return
    listener = rt.part(DaskListener)
    listener.attach(client, topic)


class DaskListener:
    """The kernel's subscription to the workers' events (a root part)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.clients: set[int] = set()

    def attach(self, client: Any, topic: str) -> None:
        if id(client) in self.clients:
            return
        self.clients.add(id(client))
        client.subscribe_topic(topic, self._handler())

    def _handler(self) -> Callable[[tuple[float, Any]], None]:
        def handle(event: tuple[float, Any]) -> None:
            try:
                record(self.rt, [event[1]])
            except Exception:
                log.exception("recording a Dask worker's request failed")

        return handle

    def close(self) -> None:
        self.clients.clear()


__all__ = ["DaskListener", "PartitionSpec", "answer_partition", "map_dask", "partition_spec", "record"]
