"""The request-keyed answer store in the ledger (ledger/answers.py)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from evo_magic.core.events import Finished, ResponseStarted, TextDelta, UsageReported
from evo_magic.core.snapshot import accumulate
from evo_magic.core.usage import Usage
from evo_magic.ledger.answers import CHUNK, Answers
from evo_magic.ledger.store import Ledger


def answer(text: str):  # type: ignore[no-untyped-def]
    return accumulate([ResponseStarted("r", "deepseek-v4-flash"), TextDelta(text), UsageReported(Usage(10, 0, 10, 3)), Finished("stop")])


def test_put_get_and_forget_survive_reopening_the_ledger(tmp_path: Path) -> None:
    path = tmp_path / "home" / "ledger.sqlite3"
    with Ledger(path) as ledger:
        store = Answers(ledger)
        assert store.get("k1") is None
        store.put("k1", answer("first"), protocol="openai", model="deepseek-v4-flash", cost=Decimal("0.0001"), request_id=7)
        store.put("k1", answer("newer"), protocol="openai", model="deepseek-v4-flash", cost=None)
    with Ledger(path) as ledger:
        kept = Answers(ledger).get("k1")
        assert kept is not None and kept.snapshot().text == "newer" and kept.cost is None and kept.request_id is None
        assert kept.snapshot().usage == Usage(10, 0, 10, 3) and kept.protocol == "openai"
        assert Answers(ledger).forget(["k1", "k2"]) == 1 and Answers(ledger).get("k1") is None


def test_many_keys_are_looked_up_in_chunks(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        store = Answers(ledger)
        for i in range(0, 2 * CHUNK + 10, 7):
            store.put(f"k{i}", answer(str(i)), protocol="openai", model="m", cost=Decimal(i))
        found = store.get_many(f"k{i}" for i in range(2 * CHUNK + 10))
        assert sorted(found) == sorted(f"k{i}" for i in range(0, 2 * CHUNK + 10, 7))
        assert found["k14"].snapshot().text == "14" and found["k14"].cost == Decimal(14)


def test_many_answers_are_kept_in_one_write(tmp_path) -> None:
    from decimal import Decimal

    from evo_magic.core.events import TextDelta, UsageReported
    from evo_magic.core.replay import replayed
    from evo_magic.core.usage import Usage
    from evo_magic.ledger.answers import Answers, Kept
    from evo_magic.ledger.store import Ledger

    snaps = [replayed([TextDelta(f"answer {i}"), UsageReported(Usage(10, 0, 10, i))]) for i in range(3)]
    with Ledger(tmp_path / "l.sqlite3") as ledger:
        store = Answers(ledger)
        store.put_many([Kept(f"k{i}", s, "openai", "deepseek-v4-flash", Decimal(i)) for i, s in enumerate(snaps)])
        store.put_many([])
        got = store.get_many(["k0", "k1", "k2", "nope"])
    assert sorted(got) == ["k0", "k1", "k2"] and got["k2"].snapshot().text == "answer 2" and got["k1"].cost == Decimal(1)
