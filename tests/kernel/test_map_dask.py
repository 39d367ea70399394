"""evo_magic.map over a Dask DataFrame on a distributed.LocalCluster with two worker processes,
against the emulator: rows answered on the workers, the result a Dask DataFrame with the
usage and cost columns, every request recorded in this (the notebook's) ledger."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

import evo_magic
from evo_magic.runtime import root

from ..conftest import use_emulator

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")


def test_a_dask_frame_is_answered_on_the_workers_and_recorded_here(emulator, monkeypatch) -> None:
    use_emulator(monkeypatch, emulator.url, "/work/dask.ipynb")
    frame = pd.DataFrame({"text": [f"ticket {i}" for i in range(40)]})
    ddf = dd.from_pandas(frame, npartitions=4)
    sent = len(emulator.requests)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        out = evo_magic.map(ddf, "Route this ticket: {text}", thinking=False, max_tokens=12, concurrency=4)
        assert isinstance(out, dd.DataFrame) and list(out.columns) == [
            "text", "answer", "error", "cost", "tokens_in", "tokens_out", "cached"]
        assert len(emulator.requests) == sent  # lazy: nothing sent before compute
        got = out.compute()
        workers = {w["id"] for w in client.scheduler_info()["workers"].values()}
        deadline = time.monotonic() + 10
        rows = []
        while time.monotonic() < deadline:
            rows = [r for r in root().accounting.ledger.rows("/work/dask.ipynb") if r.origin == "map"]
            if len(rows) >= 40:
                break
            time.sleep(0.1)
    assert len(workers) == 2 and got.text.tolist() == frame.text.tolist() and got.answer.notna().all()
    assert all(isinstance(c, Decimal) and c > 0 for c in got.cost) and (got.tokens_in > 0).all()
    assert len(emulator.requests) - sent == 40
    assert len(rows) == 40 and len({r.run_id for r in rows}) == 1 and all(r.request_key for r in rows)
    assert sum(r.cost for r in rows) == sum(got.cost)


def test_workers_without_a_key_say_so_per_row_and_the_key_is_sent_only_on_purpose(emulator, monkeypatch) -> None:
    from evo_magic.batch.dask import NO_WORKER_KEY

    frame = pd.DataFrame({"text": [f"ticket {i}" for i in range(12)]})
    ddf = dd.from_pandas(frame, npartitions=3)
    # the workers start with no EVOLINK_* in their environment (the autouse fixture cleared it)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        use_emulator(monkeypatch, emulator.url, "/work/dask.ipynb")  # only the notebook has the key
        sent = len(emulator.requests)
        refused = evo_magic.map(ddf, "Route this ticket: {text}", thinking=False, max_tokens=12).compute()
        assert refused.error.eq(NO_WORKER_KEY).all() and refused.answer.isna().all()
        assert len(emulator.requests) == sent
        sent_key = evo_magic.map(ddf, "Route this ticket: {text}", thinking=False, max_tokens=12,
                                 send_key_to_workers=True).compute()  # fmt: skip
    assert sent_key.answer.notna().all() and sent_key.error.isna().all() and len(emulator.requests) - sent == 12
