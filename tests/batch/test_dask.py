"""evo_magic.map over a Dask DataFrame in this process (Dask's synchronous scheduler): the key
stays out of the task graph unless sent on purpose, a worker without a key answers each row
with one line, the bundled emulator's endpoint travels as it is. (Worker processes:
tests/kernel/test_map_dask.py.)"""

from __future__ import annotations

import importlib.util
import pickle

import pytest

import evo_magic
from evo_magic.batch.dask import NO_WORKER_KEY, partition_spec
from evo_magic.emulator import Emulator
from evo_magic.errors import OptionError

from ..conftest import use_emulator, use_offline

if importlib.util.find_spec("dask") is None:  # dask itself is imported where used: it takes a second
    pytest.skip("dask is not installed", allow_module_level=True)
pd = pytest.importorskip("pandas")
KEY = "sk-dask-graph-key-31337"
OPTS = {"thinking": False, "max_tokens": 8}


@pytest.fixture(scope="module")
def emu():
    with Emulator() as e:
        yield e


def frame(n: int = 6):
    import dask.dataframe as dd

    return dd.from_pandas(pd.DataFrame({"text": [f"ticket {i}" for i in range(n)]}), npartitions=2)




def test_by_default_the_key_is_not_in_the_graph_and_the_worker_reads_its_own(emu, monkeypatch) -> None:
    use_emulator(monkeypatch, emu.url, "/work/dask.ipynb", key=KEY)
    out = evo_magic.map(frame(), "Route: {text}", **OPTS)
    assert KEY.encode() not in pickle.dumps(dict(out.__dask_graph__()))
    got = out.compute(scheduler="sync")  # the "worker" is this process: it has the key
    assert got.answer.notna().all() and got.error.isna().all()


def test_a_worker_without_a_key_gives_each_row_one_line(emu, monkeypatch) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", "/work/dask.ipynb")
    monkeypatch.setenv("EVOLINK_BASE_URL", emu.url)  # no key here, nor on the "worker"
    sent = len(emu.requests)
    got = evo_magic.map(frame(), "Route: {text}", **OPTS).compute(scheduler="sync")
    assert got.error.eq(NO_WORKER_KEY).all() and got.answer.isna().all() and len(emu.requests) == sent
    assert "\n" not in NO_WORKER_KEY and "send_key_to_workers=True" in NO_WORKER_KEY


def test_send_key_to_workers_puts_the_key_in_the_graph_on_purpose(emu, monkeypatch) -> None:
    use_emulator(monkeypatch, emu.url, "/work/dask.ipynb", key=KEY)
    out = evo_magic.map(frame(), "Route: {text}", send_key_to_workers=True, **OPTS)
    assert KEY.encode() in pickle.dumps(dict(out.__dask_graph__()))
    assert KEY not in repr(dict(out.__dask_graph__()))  # but in no repr
    monkeypatch.delenv("EVOLINK_API_KEY")  # the "worker" has none of its own: the graph's is used
    assert out.compute(scheduler="sync").answer.notna().all()


def test_a_token_in_the_base_url_sent_to_the_workers_is_in_no_repr(monkeypatch) -> None:
    """The base URLs travel with the key; a gateway token in their path (or the key pasted into
    one) is as secret as the key: pickled into the graph, shown by no repr of it."""
    from ..keys import PASTED, TOKEN

    monkeypatch.setenv("EVOLINK_API_KEY", KEY)
    monkeypatch.setenv("EVOLINK_BASE_URL", f"http://127.0.0.1:9/{TOKEN}/v1,http://127.0.0.1:9/{PASTED}")
    out = evo_magic.map(frame(), "Route: {text}", send_key_to_workers=True, **OPTS)
    graph = dict(out.__dask_graph__())
    assert TOKEN.encode() in pickle.dumps(graph) and PASTED.encode() in pickle.dumps(graph)
    spec = partition_spec(pd.DataFrame({"text": []}), "Route: {text}", send_key_to_workers=True, **OPTS)
    assert spec.base_urls is not None and TOKEN in spec.base_urls[0]  # what the worker sends to
    shown = repr(graph) + repr(spec) + str(spec)  # Spark and Dask error pages show their arguments
    assert TOKEN not in shown and PASTED not in shown and KEY not in shown and "127.0.0.1:9" in repr(spec)


def test_the_emulators_endpoint_travels_as_it_is(emulator, monkeypatch) -> None:
    use_offline(monkeypatch, emulator, "/work/dask.ipynb")
    out = evo_magic.map(frame(4), "Route: {text}", **OPTS)
    assert b"evo-magic-offline-emulator" in pickle.dumps(dict(out.__dask_graph__()))
    assert out.compute(scheduler="sync").answer.notna().all()


def test_send_key_to_workers_is_for_dask_frames_only(emu, monkeypatch) -> None:
    use_emulator(monkeypatch, emu.url, "/work/dask.ipynb", key=KEY)
    with pytest.raises(OptionError, match=r"^send_key_to_workers goes with a Dask DataFrame"):
        evo_magic.map(["a"], "Say {text}", send_key_to_workers=True, **OPTS)
    with pytest.raises(OptionError, match=r"^send_key_to_workers is True or False"):
        evo_magic.map(frame(), "Say {text}", send_key_to_workers="yes", **OPTS)


def test_the_partition_function_runs_as_sparks_mapinpandas_calls_it(emu, monkeypatch) -> None:
    from evo_magic.batch.dask import answer_partition, partition_spec
    from evo_magic.runtime import root

    use_emulator(monkeypatch, emu.url, "/work/spark.ipynb", key=KEY)
    tickets = pd.DataFrame({"text": [f"ticket {i}" for i in range(5)]})
    spec = partition_spec(tickets.iloc[:0], "Route: {text}", **OPTS)  # in the driver: everything checked once
    assert spec.key is None and KEY.encode() not in pickle.dumps(spec)  # the executors read their own key

    def on_executor(frames):  # what sdf.mapInPandas(on_executor, schema=...) runs for each task
        return (answer_partition(f, spec) for f in frames)

    got = pd.concat(on_executor(iter([tickets.iloc[:2], tickets.iloc[2:]])))
    assert list(got.columns) == ["text", "answer", "error", "cost", "tokens_in", "tokens_out", "cached"]
    assert got.answer.notna().all() and got.error.isna().all() and list(got.index) == list(range(5))
    recorded = [r for r in root().accounting.ledger.rows() if r.run_id == spec.run_id]
    assert len(recorded) == 5 and {r.origin for r in recorded} == {"map"}  # this process has no Dask worker
    with pytest.raises(OptionError, match=r"^\{txt\}: no column named 'txt'"):
        partition_spec(tickets.iloc[:0], "Route: {txt}", **OPTS)
