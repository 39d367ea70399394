"""The ledger: one SQLite row per request, kept across kernel restarts (IO).

The file is ``$EVO_MAGIC_HOME/ledger.sqlite3`` (``~/.evo_magic/`` by default), opened with the
standard library's :mod:`sqlite3`:

* **Concurrent kernels** share it safely: WAL journal (readers never wait for the writer),
  ``PRAGMA busy_timeout`` so a writer waits for another's short transaction, every write one
  ``BEGIN IMMEDIATE … COMMIT`` of a few rows, and a bounded retry with backoff on
  ``database is locked`` / ``busy``.
* **A killed kernel** loses at most the write it was in the middle of: with WAL and
  ``synchronous=NORMAL`` a committed transaction survives the process dying; an
  uncommitted one is rolled back when the file is next opened. Each request is written as
  ``started`` before it is sent and replaced when it settles, so one a kernel died in the
  middle of stays visible: billed by the API, its tokens unknown.
* **Schema** changes are an ordered list, :data:`~evo_magic.ledger.tables.MIGRATIONS`;
  ``schema_version`` records how many ran, and each runs once, in one transaction.

Usage reported by the API is the source of truth: a request without usage (interrupted
before the final chunk, failed) is stored with NULL tokens and NULL cost, never zeros, and
totals count it apart. Cost is stored as decimal TEXT, so sums stay exact. A request the
bundled emulator answered (``%deepseek offline``; schema 4, ``offline``) keeps the cost DeepSeek
would have charged, but no spend counts it: nobody bills emulator traffic.

``turns`` keeps, per successful turn, what ``%deepseek restore`` needs after a kernel restart:
the prompt, the answer, the reasoning, the tool calls, and (schema 3) the exact messages the
turn added to the history (reasoning and thinking signatures included, since the protocols
require them echoed), the front end's cell id, and ``dropped`` once a reset, an undo or a
re-run of the same cell took the turn out of the conversation.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple, TypeAlias, TypeVar

from ..core.snapshot import ToolCallRecord
from ..core.status import Origin, Outcome
from ..core.usage import Usage
from ..errors import EvoMagicError
from .pricing import as_utc, home_dir
from .private import private_database, private_dir
from .tables import COLUMNS, MIGRATIONS, PRAGMAS, UNKNOWN_COST
from .totals import STARTED as STARTED
from .totals import TOKENS

log = logging.getLogger(__name__)

DEFAULT_FILE = "ledger.sqlite3"
BUSY_TIMEOUT = 5.0  # seconds a statement waits for another process's lock
RETRIES = 6  # attempts of one read or write when the file stays locked
RETRY_BACKOFF = 0.05  # seconds before the 2nd attempt, doubling

T = TypeVar("T")
SqlValue: TypeAlias = str | int | float | None  # what a row's column holds


class LedgerError(EvoMagicError):
    """The ledger file could not be read or written (locked too long, corrupt, unwritable)."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class LedgerRow:
    """One request as the ledger keeps it (one ``requests`` row).

    ``at`` is when the request started (UTC); ``origin`` is cell, panel or api and ``cell`` the
    execution count; ``usage`` None means the API reported none (all token columns NULL);
    ``cost`` None means unknown (stored as decimal TEXT otherwise); ``ttft`` and ``elapsed``
    are seconds; ``outcome`` is the reply status (ok, length, interrupted, error,
    content_filter, ...), or ``started`` from when the request is sent until it settles (a kernel
    killed mid-answer leaves it so), and ``error`` the error kind (e.g. ``RateLimitError``).
    ``offline`` marks a request the bundled emulator answered: ``cost`` is then what DeepSeek
    would have charged, and no spend counts it. ``request_key`` is the request's
    :func:`~evo_magic.core.replay.request_key`, ``run_id`` the ``evo_magic.map`` run it belongs
    to; an answer from the cache (outcome ``cached``) costs 0 and ``saved`` what asking again
    would have cost.
    """

    notebook: str
    session: str
    model_requested: str
    outcome: Outcome = "ok"
    usage: Usage | None = None
    cost: Decimal | None = None
    model_answered: str | None = None
    protocol: str = "openai"
    at: datetime = field(default_factory=_now)
    origin: Origin = "cell"
    cell: int | None = None
    ttft: float | None = None
    elapsed: float | None = None
    error: str | None = None
    response_id: str | None = None
    offline: bool = False
    request_key: str | None = None  # core.replay.request_key of the exact request (schema 5)
    run_id: str | None = None  # the evo_magic.map run it belongs to (schema 5)
    saved: Decimal | None = None  # an answer from the cache: what asking again would have cost
    id: int | None = None  # set on rows read back

    @property
    def model(self) -> str:
        """The model that answered, else the one requested."""
        return self.model_answered or self.model_requested

    def _db_values(self) -> dict[str, SqlValue]:
        values = {name: getattr(self, name, None) for name in COLUMNS}  # token columns: None
        if self.usage is not None:
            values.update({name: getattr(self.usage, name) for name in TOKENS})
        values["at"] = _iso(self.at)
        values["cost"] = None if self.cost is None else str(self.cost)
        values["saved"] = None if self.saved is None else str(self.saved)
        values["offline"] = int(self.offline)
        return values

    @classmethod
    def _from_db(cls, row: sqlite3.Row) -> LedgerRow:
        usage = None
        if row["prompt_tokens"] is not None:
            usage = Usage(**{name: row[name] if name == "reasoning_tokens" else row[name] or 0 for name in TOKENS})
        values = {name: row[name] for name in COLUMNS if name not in TOKENS}
        values["at"] = datetime.fromisoformat(row["at"])
        values["cost"] = None if row["cost"] is None else Decimal(row["cost"])
        values["saved"] = None if row["saved"] is None else Decimal(row["saved"])
        values["offline"] = bool(row["offline"])
        return cls(usage=usage, id=row["id"], **values)


@dataclass(frozen=True)
class TurnRecord:
    """What one successful request said, for restoring a session later."""

    prompt: str
    text: str
    reasoning: str = ""
    tool_calls: tuple[ToolCallRecord, ...] = ()
    messages: tuple[dict[str, Any], ...] | None = None  # Message.to_record() of what the turn added
    cell_id: str | None = None


class Spend(NamedTuple):
    """Known spend of a notebook, and how many requests have an unknown cost."""

    cost: Decimal
    unknown: int


class Ledger:
    """The request ledger at ``path`` (default ``$EVO_MAGIC_HOME/ledger.sqlite3``)."""

    def __init__(self, path: str | Path | None = None, *, timeout: float = BUSY_TIMEOUT):
        self._in_home = path is None  # the evo_magic home is ours: an existing one is tightened to 0700
        self.path = Path(path) if path is not None else home_dir() / DEFAULT_FILE
        self.timeout = timeout
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._retry(self._open)

    # --- plumbing ----------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        try:
            private_dir(self.path.parent, tighten=self._in_home)  # prompts and answers: owner only
            private_database(self.path)
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(f"cannot open the ledger {self.path}: {exc}") from None
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            for pragma in PRAGMAS:
                conn.execute(f"PRAGMA {pragma}")
            self._migrate(conn)
            private_database(self.path)  # the -wal and -shm files WAL mode made
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    @staticmethod
    def _version(conn: sqlite3.Connection) -> int:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self, conn: sqlite3.Connection) -> None:
        if self._version(conn) >= len(MIGRATIONS):
            return
        with _transaction(conn):
            current = self._version(conn)  # again, under the write lock: another kernel may have run them
            for statements in MIGRATIONS[current:]:
                for statement in statements:
                    conn.execute(statement)
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (max(current, len(MIGRATIONS)),))
        log.info("ledger %s migrated from schema %d to %d", self.path, current, len(MIGRATIONS))

    def _retry(self, fn: Callable[[], T]) -> T:
        for attempt in range(RETRIES):
            try:
                with self._lock:
                    return fn()
            except sqlite3.DatabaseError as exc:  # "database is locked" / "busy": wait and retry
                busy = isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))
                if not busy or attempt == RETRIES - 1:
                    raise LedgerError(f"the ledger {self.path} failed: {exc}") from None
                log.debug("ledger busy (%s); retry %d", exc, attempt + 1)
            time.sleep(RETRY_BACKOFF * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in one write transaction (retried while another process holds the lock)."""

        def run() -> T:
            conn = self._open()
            with _transaction(conn):
                return fn(conn)

        return self._retry(run)

    def query(self, sql: str, params: Sequence[SqlValue] = ()) -> list[sqlite3.Row]:
        """The rows of one read (retried while another process holds the lock)."""
        return self._retry(lambda: _end_dangling(self._open()).execute(sql, params).fetchall())

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing -----------------------------------------------------------------------
    def record(self, row: LedgerRow, turn: TurnRecord | None = None, *, replace: int | None = None) -> int:
        """Append one request (and, for a successful one, its turn); returns the row id.
        ``replace``: the id of the request's ``started`` row, which this row then becomes."""

        def insert(conn: sqlite3.Connection) -> int:
            row_id = _upsert(conn, row, replace)
            if turn is not None:
                _insert_turn(conn, row_id, turn)
            return row_id

        return self.write(insert)

    def record_many(self, rows: Sequence[tuple[LedgerRow, int | None]]) -> list[int]:
        """Record many requests in one transaction (an ``evo_magic.map`` run writes the rows that
        finished together at once); each ``(row, replace)`` as :meth:`record`. Their ids, in order."""
        return self.write(lambda conn: [_upsert(conn, row, replace) for row, replace in rows])

    def record_turn(self, request_id: int, turn: TurnRecord) -> None:
        """Attach a turn to an already recorded request (replaces an earlier one)."""
        self.write(lambda conn: _insert_turn(conn, request_id, turn))

    # --- reading -----------------------------------------------------------------------
    def rows(self, notebook: str | None = None, *, session: str | None = None) -> list[LedgerRow]:
        """Requests in the order they were recorded, of one notebook (and session) or all."""
        where, params = _where(notebook=notebook, session=session)
        return [LedgerRow._from_db(r) for r in self.query(f"SELECT * FROM requests{where} ORDER BY id", params)]

    def turns(
        self, notebook: str, session: str | None = None, *, dropped: bool = False
    ) -> list[tuple[LedgerRow, TurnRecord]]:
        """Successful requests with their turns, oldest first (for a session restore); turns
        a reset, undo or re-run dropped only with ``dropped=True``."""
        where, params = _where(notebook=notebook, session=session)
        if not dropped:
            where += " AND dropped = 0"
        sql = f"SELECT * FROM requests JOIN turns ON turns.request_id = requests.id{where} ORDER BY id"
        return [(LedgerRow._from_db(r), _turn(r)) for r in self.query(sql, params)]

    def drop_turns(self, ids: Iterable[int] = (), *, notebook: str | None = None, session: str | None = None) -> int:
        """Mark turns as no longer in the conversation: the given request ids, or (with
        ``notebook`` and ``session``) every turn of that session. Returns how many changed."""
        params: list[SqlValue] = list(ids)
        if params:
            marks = ", ".join("?" * len(params))
            sql = f"UPDATE turns SET dropped = 1 WHERE dropped = 0 AND request_id IN ({marks})"
        elif notebook is not None and session is not None:
            sql = (
                "UPDATE turns SET dropped = 1 WHERE dropped = 0 AND request_id IN "
                "(SELECT id FROM requests WHERE notebook = ? AND session = ?)"
            )
            params = [notebook, session]
        else:
            return 0
        return self.write(lambda conn: conn.execute(sql, params).rowcount)

    def spend(self, notebook: str, *, since: datetime | None = None) -> Spend:
        """Known spend of ``notebook`` (optionally since an instant; naive means UTC) and the
        number of requests whose cost is unknown (they are not in the sum). Requests the
        emulator answered are in neither: nobody is billed for them."""
        where, params = _where(notebook=notebook)
        where += " AND offline = 0"
        if since is not None:
            where += " AND at >= ?"
            params.append(_iso(since))
        sql = f"SELECT group_concat(cost, ' '), SUM({UNKNOWN_COST}) FROM requests{where}"
        costs, unknown = self.query(sql, params)[0]
        return Spend(_decimal_sum(costs), int(unknown or 0))

    def notebooks(self) -> list[str]:
        """Every notebook in the ledger, most recently used first."""
        rows = self.query("SELECT notebook FROM requests GROUP BY notebook ORDER BY MAX(id) DESC")
        return [r[0] for r in rows]


_INSERT = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join(':' + c for c in COLUMNS)})"
_UPDATE = f"UPDATE requests SET {', '.join(f'{c} = :{c}' for c in COLUMNS)} WHERE id = :id"


def _upsert(conn: sqlite3.Connection, row: LedgerRow, replace: int | None) -> int:
    """Insert ``row``, or make the row ``replace`` (a started one) it; the row id."""
    values = row._db_values()
    if replace is not None and conn.execute(_UPDATE, {**values, "id": replace}).rowcount:
        return replace
    return int(conn.execute(_INSERT, values).lastrowid or 0)


def _iso(at: datetime) -> str:
    """UTC ISO 8601 with microseconds (naive means UTC), so text order is time order."""
    return as_utc(at).isoformat(timespec="microseconds")


def _decimal_sum(joined: str | None) -> Decimal:
    """Exact sum of costs that SQLite joined with spaces (SQL SUM would go through floats)."""
    return sum((Decimal(c) for c in (joined or "").split()), Decimal(0))


def _turn(row: sqlite3.Row) -> TurnRecord:
    messages = None if row["messages"] is None else tuple(json.loads(row["messages"]))
    calls = tuple(json.loads(row["tool_calls"]))
    return TurnRecord(row["prompt"], row["text"], row["reasoning"], calls, messages, row["cell_id"])


def _insert_turn(conn: sqlite3.Connection, request_id: int, turn: TurnRecord) -> None:
    messages = None if turn.messages is None else json.dumps(list(turn.messages), ensure_ascii=False)
    conn.execute(
        "INSERT OR REPLACE INTO turns (request_id, prompt, text, reasoning, tool_calls, messages, cell_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            request_id,
            turn.prompt,
            turn.text,
            turn.reasoning,
            json.dumps(list(turn.tool_calls), ensure_ascii=False),
            messages,
            turn.cell_id,
        ),
    )


def _where(**equal: str | None) -> tuple[str, list[SqlValue]]:
    pairs = [(k, v) for k, v in equal.items() if v is not None]
    if not pairs:
        return " WHERE 1", []
    return " WHERE " + " AND ".join(f"{k} = ?" for k, _ in pairs), [v for _, v in pairs]


def _end_dangling(conn: sqlite3.Connection) -> sqlite3.Connection:
    """``conn``, with what an interrupt left open rolled back (it holds the lock other kernels
    wait for, and this connection would read its uncommitted changes)."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    return conn


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception (Ctrl-C included; one
    landing just before the ``ROLLBACK`` leaves the transaction to :func:`_end_dangling`)."""
    _end_dangling(conn)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
