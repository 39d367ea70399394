"""Answers kept by the exact request that got them (thin IO shell over the ledger's ``answers`` table).

:class:`Answers` is the request-keyed store that ``evo_magic.map`` (a row already answered is
not asked again, after a crash too) and the cell cache (a re-run cell answered without a new
request) share. The key is :func:`~evo_magic.core.replay.request_key`, the value the answer's
events (:func:`~evo_magic.core.replay.answer_record`) with what it cost when it was first
answered. It lives in the ledger's SQLite file under ``EVO_MAGIC_HOME`` (0600), so it is as
private as the ledger and survives a kernel restart.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import NamedTuple

from ..core.events import Event
from ..core.replay import answer_from_record, answer_record, replayed
from ..core.snapshot import TurnSnapshot
from .store import Ledger

#: SQLite's limit on the parameters of one statement is 32,766 (999 before 3.32); keys per lookup:
CHUNK = 900


@dataclass(frozen=True)
class StoredAnswer:
    """One kept answer: its request key, when and by which model it was answered, its events,
    and what it cost then (None: unknown)."""

    key: str
    at: datetime
    protocol: str
    model: str
    events: tuple[Event, ...]
    cost: Decimal | None = None
    request_id: int | None = None

    def snapshot(self) -> TurnSnapshot:
        """The answer as the snapshot it was."""
        return replayed(self.events)


class Kept(NamedTuple):
    """One answer to keep: :meth:`Answers.put`'s arguments."""

    key: str
    snap: TurnSnapshot
    protocol: str
    model: str
    cost: Decimal | None
    request_id: int | None = None
    at: datetime | None = None


class Answers:
    """The request-keyed answers of one ledger (see the module doc)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def put(
        self,
        key: str,
        snap: TurnSnapshot,
        *,
        protocol: str,
        model: str,
        cost: Decimal | None,
        request_id: int | None = None,
        at: datetime | None = None,
    ) -> None:
        """Keep the finished answer ``snap`` of the request ``key`` (a newer one replaces it)."""
        self.put_many([Kept(key, snap, protocol, model, cost, request_id, at)])

    def put_many(self, answers: Iterable[Kept]) -> None:
        """Keep many answers in one transaction (an ``evo_magic.map`` run's finished rows)."""
        now = datetime.now(timezone.utc)
        values = [
            (a.key, (a.at or now).isoformat(timespec="microseconds"), a.protocol, a.model, answer_record(a.snap),
             None if a.cost is None else str(a.cost), a.request_id)
            for a in answers
        ]  # fmt: skip
        columns = "key, at, protocol, model, events, cost, request_id"
        sql = f"INSERT OR REPLACE INTO answers ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?)"
        if values:
            self.ledger.write(lambda conn: conn.executemany(sql, values))

    def get(self, key: str) -> StoredAnswer | None:
        """The answer kept for ``key``, or None."""
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, StoredAnswer]:
        """The answers kept for any of ``keys`` (a map run's lookups, in chunks)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, StoredAnswer] = {}
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            marks = ", ".join("?" * len(chunk))
            for row in self.ledger.query(f"SELECT * FROM answers WHERE key IN ({marks})", chunk):
                found[row["key"]] = _stored(row)
        return found

    def forget(self, keys: Iterable[str]) -> int:
        """Drop the answers of ``keys`` (``%deepseek cache refresh``); how many there were."""
        wanted = list(dict.fromkeys(keys))

        def delete(conn: sqlite3.Connection) -> int:
            dropped = 0
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start : start + CHUNK]
                marks = ", ".join("?" * len(chunk))
                dropped += conn.execute(f"DELETE FROM answers WHERE key IN ({marks})", chunk).rowcount
            return dropped

        return self.ledger.write(delete)


def _stored(row: sqlite3.Row) -> StoredAnswer:
    cost = row["cost"]
    return StoredAnswer(
        key=row["key"],
        at=datetime.fromisoformat(row["at"]),
        protocol=row["protocol"],
        model=row["model"],
        events=tuple(answer_from_record(row["events"])),
        cost=None if cost is None else Decimal(cost),
        request_id=row["request_id"],
    )


__all__ = ["CHUNK", "Answers", "Kept", "StoredAnswer"]
