"""evo_magic.map end to end in this process, against the emulator over loopback: the kinds of
data, the columns, errors before any request, identical rows, the store (a second run sends
nothing; a stopped run resumes), schemas with their one retry, the budget, the ledger rows and
the estimate."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

import evo_magic
from evo_magic.batch.run import MapInterrupted
from evo_magic.core.replay import request_key
from evo_magic.emulator import Emulator
from evo_magic.errors import OptionError
from evo_magic.ledger.answers import Answers
from evo_magic.ledger.budget import BudgetExceeded
from evo_magic.runtime import root
from evo_magic.sessions.cache import CacheMiss

from ..conftest import use_emulator, use_offline
from ..keys import MASKED, OUTPUT_KEY, home_text

pd = pytest.importorskip("pandas")
OPTS = {"model": "deepseek-v4-flash", "thinking": False, "max_tokens": 16, "progress": "none"}
TEMPLATE = "Classify the sentiment of this review: {text}"


@pytest.fixture(scope="module")
def emu():
    with Emulator() as e:
        yield e


@pytest.fixture
def online(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    use_emulator(monkeypatch, emu.url, "/work/map.ipynb")
    return emu


@pytest.fixture
def slow(online: Emulator) -> Emulator:
    """The emulator taking 40 ms an answer: a run lasts long enough to be stopped."""
    online.state.latency = 0.04
    yield online
    online.state.latency = 0.0


def reviews(n: int, distinct: int | None = None) -> pd.DataFrame:
    k = distinct or n
    return pd.DataFrame({"text": [f"review {i % k}: fine" for i in range(n)], "stars": list(range(n))},
                        index=[f"r{i}" for i in range(n)])


def test_a_dataframe_comes_back_with_its_index_order_and_the_runs_columns(online: Emulator) -> None:
    df = reviews(30)
    sent = len(online.requests)
    out = evo_magic.map(df, TEMPLATE, **OPTS)
    assert list(out.index) == list(df.index) and list(out.columns) == [
        "text", "stars", "answer", "error", "cost", "tokens_in", "tokens_out", "cached"]
    assert out.answer.map(lambda a: isinstance(a, str) and a != "").all() and out.error.isna().all()
    assert all(isinstance(c, Decimal) and c > 0 for c in out.cost) and (out.tokens_in > 0).all()
    assert not out.cached.any() and len(online.requests) - sent == 30
    summary = out.attrs["evo_magic"]
    assert (summary.rows, summary.answered, summary.failed, summary.left, summary.requests) == (30, 30, 0, 0, 30)
    assert summary.cost == sum(out.cost) and summary.tokens_in == out.tokens_in.sum() and summary.elapsed > 0
    assert df.columns.tolist() == ["text", "stars"]  # the input is not changed


def test_each_row_is_asked_with_the_instruction_first_and_its_own_value_last(online: Emulator) -> None:
    sent = len(online.requests)
    evo_magic.map(["good", "bad"], "Label {text} as positive or negative.", **OPTS)
    bodies = online.requests[sent:]
    assert {b["messages"][0]["content"] for b in bodies} == {
        "Label {text} as positive or negative.\n\nThe user message is the {text}."}
    assert sorted(b["messages"][1]["content"] for b in bodies) == ["bad", "good"]
    assert all(b["stream"] is False and b["max_tokens"] == 16 and b["thinking"] == {"type": "disabled"} for b in bodies)


def test_lists_of_dicts_and_strings_give_a_pandas_frame_and_polars_gives_polars(online: Emulator) -> None:
    out = evo_magic.map([{"text": "a", "n": 1}, {"text": "b"}], "{text} {n}", **OPTS)
    assert isinstance(out, pd.DataFrame) and out.n.tolist()[0] == 1 and list(out.index) == [0, 1]
    strings = evo_magic.map(["x", "y", "z"], "Say {text}", **OPTS)
    assert strings.text.tolist() == ["x", "y", "z"] and strings.answer.notna().all()
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame({"text": ["p", "q"]})
    got = evo_magic.map(frame, "Say {text}", **OPTS)
    assert isinstance(got, pl.DataFrame) and got.columns[:2] == ["text", "answer"] and got["tokens_in"].dtype == pl.Int64


@pytest.mark.parametrize("call,message", [
    (lambda df: evo_magic.map(df, "Classify {txt}", **OPTS), r"^\{txt\}: no column named 'txt' .*did you mean \{text\}\?$"),
    (lambda df: evo_magic.map(df, "{stars:.2f} {text:.2f}", **OPTS), r"^row 'r0': \{text:\.2f\}: cannot format str value"),
    (lambda df: evo_magic.map(df, TEMPLATE, **{**OPTS, "temperature": 5}), r"^temperature must be between 0 and 2"),
    (lambda df: evo_magic.map(df, TEMPLATE, **{**OPTS, "n": 2}), r"^a map run keeps one answer per row"),
    (lambda df: evo_magic.map(df, TEMPLATE, **{**OPTS, "tempreature": 1}), r"tempreature"),
    (lambda df: evo_magic.map(df, TEMPLATE, concurrency=0, **OPTS), r"^concurrency must be a whole number"),
    (lambda df: evo_magic.map(df.rename(columns={"stars": "answer"}), TEMPLATE, **OPTS), r"already has a column named 'answer'"),
    (lambda df: evo_magic.map(df, "  ", **OPTS), r"^the template is empty"),
    (lambda df: evo_magic.map({"text": 1}, TEMPLATE, **OPTS), r"^data must be a pandas or polars DataFrame"),
    (lambda df: evo_magic.map(df, TEMPLATE, schema=int, **OPTS), r"^schema must be a pydantic model"),
])  # fmt: skip
def test_mistakes_are_one_line_before_any_request(online: Emulator, call, message: str) -> None:
    sent = len(online.requests)
    with pytest.raises(OptionError, match=message) as info:
        call(reviews(3))
    assert "\n" not in str(info.value) and len(online.requests) == sent


def test_no_key_is_one_line_before_any_request(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVOLINK_BASE_URL", emu.url)
    with pytest.raises(evo_magic.errors.ConfigError):
        evo_magic.map(["a"], "Say {text}", **OPTS)


def test_identical_rows_are_asked_once_and_a_second_run_sends_nothing(online: Emulator) -> None:
    df = reviews(40, distinct=10)
    sent = len(online.requests)
    first = evo_magic.map(df, TEMPLATE, **OPTS)
    assert len(online.requests) - sent == 10
    assert first.cached.sum() == 30 and first.cost[first.cached].eq(0).all() and first.attrs["evo_magic"].repeated == 30
    assert first.answer.tolist() == [first.answer.iloc[i % 10] for i in range(40)]
    again = evo_magic.map(df, TEMPLATE, **OPTS)
    assert len(online.requests) - sent == 10 and again.cached.all()
    assert again.drop(columns="cached").equals(first.drop(columns="cached"))
    s = again.attrs["evo_magic"]
    assert (s.requests, s.kept, s.cost, s.answered) == (0, 40, Decimal(0), 40)


def test_a_stopped_run_keeps_its_rows_and_the_same_call_finishes_with_the_same_output(slow: Emulator) -> None:
    online = slow
    df = reviews(120)
    whole = evo_magic.map(df.assign(text=df.text + "!"), TEMPLATE, **OPTS)  # the reference, other requests
    sent = len(online.requests)
    stopped = evo_magic.map(df, TEMPLATE, concurrency=4, on_progress=lambda c: c.done >= 20 and c.stop(), **OPTS)
    s = stopped.attrs["evo_magic"]
    assert s.stopped == "stop" and 20 <= s.answered < 120 and s.left == 120 - s.answered - s.failed
    assert stopped.error[stopped.answer.isna()].eq("not answered (the run was stopped)").all()
    first = len(online.requests) - sent
    outcomes = Counter(r.outcome for r in root().accounting.ledger.rows("/work/map.ipynb") if r.run_id == s.run_id)
    assert outcomes["ok"] + outcomes["length"] == s.answered and outcomes["interrupted"] == s.requests - s.answered and not outcomes["started"]
    clocks: list[tuple[float, float | None]] = []
    resumed = evo_magic.map(df, TEMPLATE, on_progress=lambda c: clocks.append((c.started, c.first_sent)), **OPTS)
    assert len(online.requests) - sent == 120 + (first - s.answered)  # only the rows without an answer again
    assert clocks[-1][1] is not None and clocks[-1][1] >= clocks[-1][0]  # the rate counts from the first request
    assert resumed.answer.notna().all() and resumed.cached.sum() == s.answered
    fresh = evo_magic.map(df, TEMPLATE, **OPTS)  # now all kept: the reference for the same requests
    assert resumed.drop(columns="cached").equals(fresh.drop(columns="cached")) and len(whole) == 120


def test_a_stopped_runs_summary_counts_the_requests_cut_off_as_the_usage_does(slow: Emulator) -> None:
    """Requests in flight at the Stop have no answer and an unknown cost: the run's summary says
    so, as %deepseek usage does for the same run (it said "$0.0028", usage "$0.0028 + 15 unknown")."""
    # The view (and on_progress) sees the counts at most every 0.25 s, so with 0.3 s answers the
    # Stop could land just as the second wave answered, with nothing left in flight (CI saw it).
    # With 0.8 s answers it lands 0.25-0.35 s after the first wave, mid-way through the second.
    slow.state.latency = 0.8
    stopped = evo_magic.map(reviews(80), TEMPLATE, concurrency=8, on_progress=lambda c: c.done >= 8 and c.stop(), **OPTS)
    s = stopped.attrs["evo_magic"]
    rows = [r for r in root().accounting.ledger.rows("/work/map.ipynb") if r.run_id == s.run_id]
    cut = sum(r.outcome == "interrupted" for r in rows)
    assert cut > 0 and s.cut_off == cut and s.cost is not None, (s, Counter(r.outcome for r in rows))
    run_line = next(line for line in repr(evo_magic.usage()).splitlines() if line.startswith(s.run_id))
    assert f"+ {cut} unknown" in run_line and f"+ {cut} unknown" in s.line()
    assert f"{s.requests:,} ({cut} cut off unanswered: cost unknown)" in repr(s)
    assert f"+ {cut} unknown" in repr(s) and "…" not in repr(s)  # the terminal table does not cut it


def test_ctrl_c_raises_with_the_partial_result_and_finished_rows_kept(slow: Emulator) -> None:
    pressed: list[int] = []

    def interrupt(counts) -> None:  # Ctrl-C, once, as the kernel raises it in the main thread
        if counts.done >= 10 and not pressed:
            pressed.append(counts.done)
            raise KeyboardInterrupt

    with pytest.raises(MapInterrupted, match=r"^Interrupted: \d+ of 60 rows done and kept; run the same call again") as info:
        evo_magic.map(reviews(60), TEMPLATE, concurrency=2, on_progress=interrupt, **OPTS)
    partial = info.value.result
    assert partial.answer.notna().sum() == info.value.summary.answered >= 10
    run = info.value.summary.run_id
    assert "started" not in {r.outcome for r in root().accounting.ledger.rows("/work/map.ipynb") if r.run_id == run}
    kept = evo_magic.map(reviews(60), TEMPLATE, **OPTS).attrs["evo_magic"].kept
    assert kept >= info.value.summary.answered


def test_every_request_is_a_ledger_row_of_its_run(online: Emulator) -> None:
    out = evo_magic.map(reviews(12, distinct=6), TEMPLATE, **OPTS)
    rows = [r for r in root().accounting.ledger.rows("/work/map.ipynb") if r.run_id == out.attrs["evo_magic"].run_id]
    assert len(rows) == 6 and {r.origin for r in rows} == {"map"} and {r.outcome for r in rows} <= {"ok", "length"}
    assert all(r.request_key and r.usage and r.cost is not None for r in rows)
    assert sum(r.cost for r in rows) == out.attrs["evo_magic"].cost


def test_a_failing_row_gets_its_error_and_the_run_goes_on(online: Emulator) -> None:
    online.fail_next("context_length")
    out = evo_magic.map(reviews(5), TEMPLATE, concurrency=1, **OPTS)
    assert out.error.notna().sum() == 1 and out.error.dropna().iloc[0].startswith("HTTP 400: This model's maximum")
    assert out.attrs["evo_magic"].failed == 1 and out.answer.notna().sum() == 4
    again = evo_magic.map(reviews(5), TEMPLATE, **OPTS)  # only the failed row is asked again
    assert again.error.isna().all() and again.attrs["evo_magic"].requests == 1


def test_a_schema_gives_one_column_per_field_validated_and_json_mode(online: Emulator) -> None:
    pydantic = pytest.importorskip("pydantic")

    class Verdict(pydantic.BaseModel):
        answer: str
        score: int

    sent = len(online.requests)
    out = evo_magic.map(reviews(6), TEMPLATE, schema=Verdict, **{**OPTS, "max_tokens": 200})
    assert list(out.columns[2:4]) == ["answer", "score"] and out.error.isna().all()
    assert out.score.map(lambda v: isinstance(v, int)).all()
    body = online.requests[sent]
    assert body["response_format"] == {"type": "json_object"} and "Reply with one JSON object" in body["messages"][0]["content"]


def test_an_invalid_answer_is_retried_once_with_the_problem(online: Emulator) -> None:
    pytest.importorskip("jsonschema")
    schema = {"type": "object", "properties": {"score": {"type": "integer", "maximum": 40}}, "required": ["score"]}
    sent = len(online.requests)
    out = evo_magic.map(reviews(20), TEMPLATE, schema=schema, **{**OPTS, "max_tokens": 200})
    bodies = online.requests[sent:]
    retries = [b for b in bodies if len(b["messages"]) == 4]
    assert retries and len(bodies) == 20 + len(retries)
    assert all(b["messages"][3]["content"].startswith("That answer is not valid: score: ") for b in retries)
    failed = out.error.dropna()
    assert failed.str.startswith("the answer does not match the schema, even after one retry: score:").all()
    assert out.score.dropna().le(40).all() and len(failed) <= len(retries)


def test_the_budget_refuses_a_run_past_it_and_stops_one_that_reaches_it(online: Emulator) -> None:
    acc = root().accounting
    acc.budget = Decimal("0.0000001")
    evo_magic.map(reviews(1), TEMPLATE, **OPTS)  # spends past the tiny budget
    with pytest.raises(BudgetExceeded, match="the run of 5 requests is refused"):
        evo_magic.map(reviews(5).assign(text=lambda d: d.text + "."), TEMPLATE, **OPTS)
    spent = acc.ledger.spend(acc.notebook).cost
    acc.budget = spent + Decimal("0.0001")  # a few rows' worth
    out = evo_magic.map(reviews(300).assign(text=lambda d: d.text + "?"), TEMPLATE, concurrency=2, **OPTS)
    s = out.attrs["evo_magic"]
    assert s.stopped == "budget" and 0 < s.answered < 300 and s.left > 0
    assert out.error.dropna().eq("not answered (the budget was reached)").all()


def test_dry_run_sends_nothing_and_counts_what_is_left(online: Emulator) -> None:
    df = reviews(50, distinct=25)
    sent = len(online.requests)
    plan = evo_magic.map(df, TEMPLATE, dry_run=True, **OPTS)
    assert len(online.requests) == sent and (plan.rows, plan.distinct, plan.kept) == (50, 25, 0)
    assert plan.prompt_tokens > 0 and plan.output_max == 25 * 16 and plan.cost_range[0] < plan.cost_range[1]
    piloted = evo_magic.map(df, TEMPLATE, dry_run=True, pilot=5, **OPTS)
    assert len(online.requests) - sent == 5 and piloted.distinct == 20 and piloted.kept == 10
    assert piloted.output_expected is not None and "expected" in repr(piloted)
    out = evo_magic.map(df, TEMPLATE, **OPTS)  # the pilot's answers are kept
    assert out.attrs["evo_magic"].requests == 20


def test_usage_shows_each_run_with_its_rows_requests_cached_rows_and_cost(online: Emulator) -> None:
    df = reviews(12, distinct=8)
    first = evo_magic.map(df, TEMPLATE, **OPTS).attrs["evo_magic"]
    again = evo_magic.map(df, TEMPLATE, **OPTS).attrs["evo_magic"]  # every row kept: no request
    rows = evo_magic.usage()
    assert {r.run_id for r in rows if r.origin == "map"} == {first.run_id}
    lines = [line for line in repr(rows).splitlines() if line.startswith((first.run_id, again.run_id))]
    assert lines[0].split()[3:6] == ["12", "8", "4"] and lines[0].endswith("done")  # 4 identical rows asked once
    assert lines[1].split()[3:6] == ["12", "0", "12"] and lines[1].endswith("done")
    assert "Map runs" in root().accounting.usage()._repr_html_()


def test_replay_only_answers_from_kept_answers_and_refuses_a_run_that_would_send(
    online: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    df = reviews(10).assign(text=lambda d: d.text + " (replayed)")
    evo_magic.map(df.iloc[:6], TEMPLATE, **OPTS)
    monkeypatch.setenv("EVO_MAGIC_CACHE", "replay-only")  # CI that must never spend
    sent = len(online.requests)
    with pytest.raises(CacheMiss, match=r"^replay-only: 4 of 10 rows have no kept answer; fill the store with "):
        evo_magic.map(df, TEMPLATE, **OPTS)
    with pytest.raises(CacheMiss, match="4 of 10 rows"):
        evo_magic.map(df, TEMPLATE, dry_run=True, pilot=2, **OPTS)
    assert evo_magic.map(df, TEMPLATE, dry_run=True, **OPTS).kept == 6  # an estimate sends nothing
    out = evo_magic.map(df.iloc[:6], TEMPLATE, **OPTS)
    assert out.cached.all() and out.error.isna().all() and len(online.requests) == sent
    dd = pytest.importorskip("dask.dataframe")
    with pytest.raises(CacheMiss, match=r"^replay-only: a Dask run is answered on its workers"):
        evo_magic.map(dd.from_pandas(df.iloc[:6], npartitions=2), TEMPLATE, **OPTS)


def test_replay_only_never_sends_a_schema_retry_that_was_not_kept(
    online: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("jsonschema")
    schema = {"type": "object", "properties": {"score": {"type": "integer", "maximum": 40}}, "required": ["score"]}
    opts = {**OPTS, "max_tokens": 200}
    df = reviews(20).assign(text=lambda d: d.text + " (retried)")
    sent = len(online.requests)
    first = evo_magic.map(df, TEMPLATE, schema=schema, **opts)
    retries = [b for b in online.requests[sent:] if len(b["messages"]) == 4]
    assert retries
    Answers(root().accounting.ledger).forget(request_key("openai", "/v1/chat/completions", b) for b in retries)
    monkeypatch.setenv("EVO_MAGIC_CACHE", "replay-only")
    sent = len(online.requests)
    out = evo_magic.map(df, TEMPLATE, schema=schema, **opts)
    assert len(online.requests) == sent and out.score.dropna().equals(first.score[out.score.notna()])
    unsent = out.error.dropna()
    assert len(unsent) == len(retries) and unsent.str.startswith("replay-only: the answer does not match").all()


def test_answers_of_the_bundled_emulator_never_pass_for_deepseeks(
    emu: Emulator, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    df = reviews(8).assign(text=lambda d: d.text + " (offline first)")
    use_offline(monkeypatch, emulator, "/work/map.ipynb")  # %deepseek offline: canned answers
    canned = evo_magic.map(df, TEMPLATE, **OPTS)
    assert canned.attrs["evo_magic"].offline and canned.attrs["evo_magic"].requests == 8
    use_emulator(monkeypatch, emu.url, "/work/map.ipynb")  # "DeepSeek": the same requests, asked for real
    sent = len(emu.requests)
    real = evo_magic.map(df, TEMPLATE, **OPTS)
    assert len(emu.requests) - sent == 8 and not real.cached.any()
    assert evo_magic.map(df, TEMPLATE, **OPTS).attrs["evo_magic"].requests == 0  # now kept, for real
    use_offline(monkeypatch, emulator, "/work/map.ipynb")
    again = evo_magic.map(df, TEMPLATE, **OPTS)  # offline, the answers kept from real requests serve
    assert again.attrs["evo_magic"].requests == 0 and again.answer.equals(real.answer)
    assert evo_magic.map(df.assign(text=df.text + "!"), TEMPLATE, **OPTS).attrs["evo_magic"].requests == 8
    assert evo_magic.map(df.assign(text=df.text + "!"), TEMPLATE, **OPTS).attrs["evo_magic"].requests == 0


@pytest.fixture
def said(monkeypatch: pytest.MonkeyPatch):
    from .loopback import loopback

    with loopback() as server:
        use_emulator(monkeypatch, server.url, "/work/said.ipynb", OUTPUT_KEY)
        yield server


def test_the_key_in_a_rows_answer_is_masked_in_the_table_the_store_and_the_ledger(said) -> None:
    said.content = f'{{"label": "pos", "note": "key {OUTPUT_KEY}"}}'
    said.model = f"m-{OUTPUT_KEY}"
    out = evo_magic.map(["a", "b"], "Say {text}", **OPTS)
    assert out.answer.tolist() == [f'{{"label": "pos", "note": "key {MASKED}"}}'] * 2
    again = evo_magic.map(["a", "b"], "Say {text}", **OPTS)  # from the store of answers
    assert again.cached.all() and again.answer.tolist() == out.answer.tolist()
    shown = repr(out.attrs["evo_magic"]) + out.attrs["evo_magic"]._repr_html_() + out.to_html()
    assert OUTPUT_KEY not in shown and OUTPUT_KEY not in home_text()


def test_the_key_in_a_row_or_the_template_is_masked_before_it_is_sent_as_a_cells_prompt_is(said) -> None:
    out = evo_magic.map([f"row with {OUTPUT_KEY}"], f"Say {{text}} ({OUTPUT_KEY})", **OPTS)
    sent = json.dumps(said.requests)
    assert out.error.isna().all() and OUTPUT_KEY not in sent and sent.count(MASKED) == 2


def test_the_result_saves_to_parquet_with_its_summary(online: Emulator, tmp_path: Path) -> None:
    """pandas writes ``attrs`` into a Parquet file as JSON: the summary there must be JSON (it
    raised "Object of type MapSummary is not JSON serializable"), and reads back as fields."""
    pytest.importorskip("pyarrow")
    out = evo_magic.map(reviews(4), TEMPLATE, **OPTS)
    summary = out.attrs["evo_magic"]
    assert summary.line() and summary.cost > 0 and repr(summary).startswith("evo_magic.map")  # still the summary
    out.to_parquet(tmp_path / "out.parquet")
    back = pd.read_parquet(tmp_path / "out.parquet")
    saved = back.attrs["evo_magic"]
    assert saved["run_id"] == summary.run_id and saved["rows"] == 4 and Decimal(saved["cost"]) == summary.cost
    assert back.drop(columns=["cost"]).equals(out.drop(columns=["cost"]).assign())  # the table itself round-trips


def test_rows_with_a_missing_value_are_named_before_and_after_the_run(online: Emulator) -> None:
    """A table with gaps (None, NaN) would send "nan" to the model without a word: the estimate
    and the summary say how many rows, in which column, and how to leave them out."""
    df = reviews(6)
    df.loc[["r1", "r4"], "text"] = None
    df["stars"] = df["stars"].astype(float)
    df.loc["r2", "stars"] = float("nan")
    template = "Rate this review ({stars} stars): {text}"
    plan = evo_magic.map(df, template, dry_run=True, **OPTS)
    note = ("3 rows have a missing value (None or NaN): 1 in {stars}, 2 in {text}; they are sent as written "
            "('None', 'nan'); leave them out with df.dropna(subset=['stars', 'text'])")  # the template's order
    assert plan.notes == (note,) and note in repr(plan)
    out = evo_magic.map(df, template, **OPTS)
    assert out.attrs["evo_magic"].notes == (note,) and note in repr(out.attrs["evo_magic"])
    assert evo_magic.map(reviews(3), TEMPLATE, dry_run=True, **OPTS).notes == ()


def test_an_estimate_without_max_tokens_says_what_bounds_the_output(online: Emulator) -> None:
    """Without ``max_tokens`` each row's output is bounded only by the model's maximum, which
    makes the upper cost absurd (6 rows: up to $0.26): the estimate says so and what to set."""
    opts = {k: v for k, v in OPTS.items() if k != "max_tokens"}
    plan = evo_magic.map(reviews(6), TEMPLATE, dry_run=True, **opts)
    assert "the model's maximum per row: set max_tokens for a tighter bound, or pilot=N" in repr(plan)
    assert "max_tokens" not in repr(evo_magic.map(reviews(6), TEMPLATE, dry_run=True, **OPTS))


def test_the_closing_line_of_a_run_with_gaps_says_so_under_it(online: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    df = reviews(3)
    df.loc["r1", "text"] = None
    evo_magic.map(df, TEMPLATE, **{**OPTS, "progress": "text"})
    last = capsys.readouterr().err.rstrip("\n").split("\n")[-2:]
    assert last[0].startswith("3 rows: 3 answered") and last[1].startswith("1 row has a missing value (None or NaN): 1 in {text}; it is sent")
