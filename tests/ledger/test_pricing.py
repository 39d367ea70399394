"""Pricing: the dated table, peak / off-peak, overrides, cost arithmetic against hand-computed
figures (every expected number below was worked out by hand, shown in the comment)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evo_magic.core.usage import Usage
from evo_magic.errors import ConfigError
from evo_magic.ledger import pricing
from evo_magic.ledger.pricing import (
    billed_model,
    cost,
    estimate_tokens,
    format_money,
    input_cost,
    load_table,
    price_for,
    shipped_table,
)

from ..conftest import RECORDED

AWARE = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2999, 1, 1), timezones=st.timezones()
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


# 200k cache-hit + 100k cache-miss input, 50k output (20k of it reasoning: billed as output).
BIG = Usage(
    prompt_tokens=300_000,
    cache_hit_tokens=200_000,
    cache_miss_tokens=100_000,
    completion_tokens=50_000,
    reasoning_tokens=20_000,
)

# For BIG the cost is 0.2 * P_hit + 0.1 * P_miss + 0.05 * P_out (millions of tokens x USD per 1M).
PERIOD_CASES = [
    # v4-flash launch (0.028 / 0.14 / 0.28): 0.0056 + 0.014 + 0.014
    ("deepseek-v4-flash", "2026-04-25T12:00:00", "0.0336"),
    # one second before the 2026-04-26 12:15 cache cut: still the launch price
    ("deepseek-v4-flash", "2026-04-26T12:14:59", "0.0336"),
    # after the cache cut (0.0028 / 0.14 / 0.28): 0.00056 + 0.014 + 0.014
    ("deepseek-v4-flash", "2026-04-26T12:15:00", "0.02856"),
    ("deepseek-v4-flash", "2026-08-16T15:59:59", "0.02856"),
    # v4-pro launch promotion (0.03625 / 0.435 / 0.87): 0.00725 + 0.0435 + 0.0435
    ("deepseek-v4-pro", "2026-04-25T12:00:00", "0.09425"),
    # v4-pro after the cache cut (0.003625 / 0.435 / 0.87): 0.000725 + 0.0435 + 0.0435
    ("deepseek-v4-pro", "2026-05-15T00:00:00", "0.087725"),
    # v4-pro after the promotion was made permanent: unchanged
    ("deepseek-v4-pro", "2026-07-01T00:00:00", "0.087725"),
    # 2026-08-16 16:00 is a Sunday: off-peak from the first second (0.007 / 0.22 / 0.66)
    ("deepseek-v4-flash", "2026-08-16T16:00:00", "0.0564"),
    # Monday 02:00 UTC = 10:00 Beijing: peak (0.014 / 0.44 / 1.32): 0.0028 + 0.044 + 0.066
    ("deepseek-v4-flash", "2026-08-17T02:00:00", "0.1128"),
    # Monday 05:00 UTC, between the windows: off-peak: 0.0014 + 0.022 + 0.033
    ("deepseek-v4-flash", "2026-08-17T05:00:00", "0.0564"),
    # Saturday 02:00 UTC: weekends are off-peak
    ("deepseek-v4-flash", "2026-08-22T02:00:00", "0.0564"),
    # v4-pro Tuesday 07:30 UTC peak (0.044 / 1.32 / 3.96): 0.0088 + 0.132 + 0.198
    ("deepseek-v4-pro", "2026-08-18T07:30:00", "0.3388"),
    # v4-pro Sunday 07:30 UTC off-peak (0.022 / 0.66 / 1.98): 0.0044 + 0.066 + 0.099
    ("deepseek-v4-pro", "2026-08-23T07:30:00", "0.1694"),
    # Thursday 2026-10-01 02:00 UTC: National Day, listed in off_peak_dates
    ("deepseek-v4-pro", "2026-10-01T02:00:00", "0.1694"),
    # deepseek-flash (V4.1) Wednesday 02:00 UTC peak (0.006 / 0.30 / 1.20): 0.0012 + 0.03 + 0.06
    ("deepseek-flash", "2026-09-16T02:00:00", "0.0912"),
    # deepseek-flash same day 12:00 UTC off-peak (0.003 / 0.15 / 0.60): 0.0006 + 0.015 + 0.03
    ("deepseek-flash", "2026-09-16T12:00:00", "0.0456"),
    # legacy V3, night-discount era, Monday 10:00 UTC standard (0.07 / 0.27 / 1.10): 0.014 + 0.027 + 0.055
    ("deepseek-chat", "2025-03-03T10:00:00", "0.096"),
    # legacy V3 20:00 UTC night discount (0.035 / 0.135 / 0.55): 0.007 + 0.0135 + 0.0275
    ("deepseek-chat", "2025-03-03T20:00:00", "0.048"),
    # legacy R1 standard (0.14 / 0.55 / 2.19): 0.028 + 0.055 + 0.1095
    ("deepseek-reasoner", "2025-03-03T10:00:00", "0.1925"),
    # legacy R1 00:15 UTC, still inside the 16:30-00:30 discount: same as V3 off-peak
    ("deepseek-reasoner", "2025-03-04T00:15:00", "0.048"),
    # V3.1, discount cancelled (0.07 / 0.56 / 1.68), at 20:00 UTC: 0.014 + 0.056 + 0.084
    ("deepseek-reasoner", "2025-09-10T20:00:00", "0.154"),
    # V3.2 (0.028 / 0.28 / 0.42): 0.0056 + 0.028 + 0.021
    ("deepseek-chat", "2025-10-15T12:00:00", "0.0546"),
    # deepseek-chat as a V4-Flash alias after the cache cut: as v4-flash
    ("deepseek-chat", "2026-06-01T00:00:00", "0.02856"),
]


@pytest.mark.parametrize(("model", "at", "expected"), PERIOD_CASES)
def test_cost_per_model_and_period(model: str, at: str, expected: str) -> None:
    assert cost(BIG, model, utc(at)) == Decimal(expected)


@pytest.mark.parametrize(
    ("model", "at"),
    [
        ("deepseek-chat", "2024-12-01T00:00:00"),  # before the first entry
        ("deepseek-chat", "2026-07-24T16:00:00"),  # retired: null prices
        ("deepseek-reasoner", "2026-09-01T00:00:00"),
        ("gpt-4o", "2026-09-01T00:00:00"),  # never priced
        ("deepseek-flash", "2026-09-01T00:00:00"),  # before its first entry
    ],
)
def test_unknown_price_is_none_never_zero(model: str, at: str) -> None:
    assert price_for(model, utc(at)) is None
    assert cost(BIG, model, utc(at)) is None
    assert format_money(cost(BIG, model, utc(at))) == "unknown"


def test_no_usage_means_no_cost() -> None:
    assert cost(None, "deepseek-v4-flash", utc("2026-06-01T00:00:00")) is None


@pytest.mark.parametrize(
    ("at", "period"),
    [
        ("2026-08-17T00:59:59", "off_peak"),
        ("2026-08-17T01:00:00", "peak"),
        ("2026-08-17T03:59:59", "peak"),
        ("2026-08-17T04:00:00", "off_peak"),
        ("2026-08-17T05:59:59", "off_peak"),
        ("2026-08-17T06:00:00", "peak"),
        ("2026-08-21T09:59:59", "peak"),  # Friday
        ("2026-08-21T10:00:00", "off_peak"),
        ("2026-08-23T02:00:00", "off_peak"),  # Sunday
        ("2026-09-25T02:00:00", "off_peak"),  # Mid-Autumn Festival (Friday)
        ("2026-10-08T02:00:00", "peak"),  # the Thursday after National Day week
        ("2025-03-03T00:29:59", "off_peak"),  # 2025 night discount 16:30-00:30 UTC
        ("2025-03-03T00:30:00", "peak"),
        ("2025-03-03T16:30:00", "off_peak"),
    ],
)
def test_peak_and_off_peak_by_utc_time(at: str, period: str) -> None:
    assert shipped_table().period_at(utc(at)) == period


def test_aware_instants_in_other_zones_and_naive_as_utc() -> None:
    beijing = datetime.fromisoformat("2026-08-17T10:00:00+08:00")  # = 02:00 UTC, peak
    assert price_for("deepseek-v4-flash", beijing).period == "peak"  # type: ignore[union-attr]
    assert price_for("deepseek-v4-flash", datetime(2026, 8, 17, 2)).period == "peak"  # type: ignore[union-attr]
    assert price_for("DeepSeek-V4-Flash ", beijing) == price_for("deepseek-v4-flash", beijing)


def test_shipped_table_is_consistent() -> None:
    data = json.loads(Path(pricing.__file__).with_name("prices.json").read_text())
    for entry in data["prices"]:
        assert entry["source"] and entry["period"] in pricing.PERIODS
    # since 2026-08-16 off-peak is exactly half the peak price, for every model
    table = shipped_table()
    for model in ("deepseek-v4-flash", "deepseek-v4-pro", "deepseek-flash"):
        peak = table.price_for(model, utc("2026-10-14T02:00:00"))
        off = table.price_for(model, utc("2026-10-14T12:00:00"))
        assert peak is not None and off is not None
        assert (off.cache_hit * 2, off.cache_miss * 2, off.output * 2) == (peak.cache_hit, peak.cache_miss, peak.output)
    assert "deepseek-v4-pro" in table.models()


# --- cache-hit accounting on the recordings ----------------------------------------------

RECORDED_COSTS = {
    # name: (cache hit, cache miss, expected cost). v4-flash after the cache cut: 0.0028 / 0.14 / 0.28.
    # 512*0.0028 + 51*0.14 + 116*0.28 = 1.4336 + 7.14 + 32.48 = 41.0536 -> /1e6
    "v4_thinking_tool_loop_turn1": (512, 51, "0.0000410536"),
    # 0 + 875*0.14 + 79*0.28 = 122.5 + 22.12 = 144.62
    "v4_thinking_tool_loop_turn2_parallel": (0, 875, "0.00014462"),
    # 896*0.0028 + 80*0.14 + 61*0.28 = 2.5088 + 11.2 + 17.08 = 30.7888
    "v4_thinking_tool_loop_turn3_final": (896, 80, "0.0000307888"),
    # 11*0.14 + 8*0.28 = 1.54 + 2.24 = 3.78 (deepseek-chat answered by deepseek-v4-flash)
    "stream_basic_nonthinking": (0, 11, "0.00000378"),
    # 348*0.14 + 65*0.28 = 48.72 + 18.2 = 66.92
    "stream_tool_call": (0, 348, "0.00006692"),
    # 407*0.14 + 94*0.28 = 56.98 + 26.32 = 83.3
    "nonstream_parallel_tool_calls": (0, 407, "0.0000833"),
    # 18*0.14 + 1*0.28 = 2.52 + 0.28 = 2.8
    "thinking_disabled": (0, 18, "0.0000028"),
    # 97*0.14 + 17*0.28 = 13.58 + 4.76 = 18.34 (the 15 reasoning tokens are inside the 17)
    "thinking_enabled_effort_high": (0, 97, "0.00001834"),
    # V3.1 (2025-09-27, 0.07 / 0.56 / 1.68): 12*0.56 + 9*1.68 = 6.72 + 15.12 = 21.84
    "stream_basic_no_stream_options": (0, 12, "0.00002184"),
    # V3.1: 128*0.07 + 33*0.56 + 25*1.68 = 8.96 + 18.48 + 42 = 69.44
    "stream_tool_call_with_text_no_stream_options": (128, 33, "0.00006944"),
    # R1 at 17:41 UTC 2025-07-10, night discount (0.035 / 0.135 / 0.55): 6*0.135 + 212*0.55 = 0.81 + 116.6
    "stream_thinking_reasoner": (0, 6, "0.00011741"),
}


def recorded_usage(name: str) -> tuple[Usage, str | None, str | None, datetime]:
    """Usage, requested model, answered model and time of one recording."""
    meta = json.loads((RECORDED / f"{name}.meta.json").read_text())
    request = RECORDED / f"{name}.request.json"
    requested = json.loads(request.read_text()).get("model") if request.exists() else None
    sse = RECORDED / f"{name}.response.sse"
    if sse.exists():
        chunks = [
            json.loads(line[5:])
            for line in sse.read_text().splitlines()
            if line.startswith("data:") and line[5:].strip() != "[DONE]"
        ]
        raw = [c["usage"] for c in chunks if c.get("usage")][-1]
        answered = chunks[-1].get("model")
    else:
        body = json.loads((RECORDED / f"{name}.response.json").read_text())
        raw, answered = body["usage"], body.get("model")
    return Usage.from_openai(raw), requested, answered, utc(meta["recorded_at"].rstrip("Z"))


@pytest.mark.parametrize("name", sorted(RECORDED_COSTS))
def test_recorded_usage_costs(name: str) -> None:
    hit, miss, expected = RECORDED_COSTS[name]
    usage, requested, answered, at = recorded_usage(name)
    assert (usage.cache_hit_tokens, usage.cache_miss_tokens) == (hit, miss)
    assert usage.cache_hit_tokens + usage.cache_miss_tokens == usage.prompt_tokens
    model = billed_model(requested or answered or "", answered)
    assert cost(usage, model, at) == Decimal(expected)


def test_tool_loop_total_and_anthropic_usage_cost_the_same() -> None:
    # 41.0536 + 144.62 + 30.7888 = 216.4624 millionths of a dollar
    total = sum(
        cost(*recorded_usage(n)[:1], "deepseek-v4-flash", utc("2026-06-10T09:04:13")) or Decimal(0)
        for n in (
            "v4_thinking_tool_loop_turn1",
            "v4_thinking_tool_loop_turn2_parallel",
            "v4_thinking_tool_loop_turn3_final",
        )
    )
    assert total == Decimal("0.0002164624")
    # The same tokens as Anthropic reports them (input excludes cache reads): same cost as turn 1.
    anthropic = Usage.from_anthropic({"input_tokens": 51, "cache_read_input_tokens": 512, "output_tokens": 116})
    assert cost(anthropic, "deepseek-v4-flash", utc("2026-06-10T09:04:13")) == Decimal("0.0000410536")


def test_billed_model_prefers_the_answering_model() -> None:
    assert billed_model("deepseek-chat", "deepseek-v4-flash") == "deepseek-v4-flash"
    assert billed_model("deepseek-v4-pro", None) == "deepseek-v4-pro"
    assert billed_model("deepseek-v4-pro", "") == "deepseek-v4-pro"


# --- overrides -----------------------------------------------------------------------------


def write_user_prices(home: Path, data: object) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "prices.json").write_text(json.dumps(data))


def test_user_file_extends_and_overrides(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_user_prices(
        home,
        {
            "prices": [
                {"model": "my-local-model", "cache_hit": "1", "cache_miss": "2", "output": "4"},
                {
                    "model": "deepseek-v4-flash",
                    "effective_from": "2026-11-01T00:00:00Z",
                    "cache_hit": "0.01",
                    "cache_miss": "0.1",
                    "output": "1",
                    "source": "my contract",
                },
            ],
            "off_peak_dates": ["2027-01-01"],
        },
    )
    table = load_table(home)
    # undated user entry: in force at every instant. 0.2*1 + 0.1*2 + 0.05*4 = 0.6
    assert cost(BIG, "my-local-model", utc("2020-01-01T00:00:00"), table) == Decimal("0.6")
    # dated user entry wins only from its date: before, the shipped peak price (0.1128, see above)
    assert cost(BIG, "deepseek-v4-flash", utc("2026-10-14T02:00:00"), table) == Decimal("0.1128")
    late = table.price_for("deepseek-v4-flash", utc("2026-11-02T02:00:00"))
    assert late is not None and late.source == "my contract" and late.origin == "user file"
    # 0.2*0.01 + 0.1*0.1 + 0.05*1 = 0.002 + 0.01 + 0.05
    assert late.cost(BIG) == Decimal("0.062")
    # an added holiday (Friday 2027-01-01) is off-peak
    assert table.period_at(utc("2027-01-01T02:00:00")) == "off_peak"
    assert shipped_table().period_at(utc("2027-01-01T02:00:00")) == "peak"


def test_config_dict_wins_over_file_and_shipped(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_user_prices(home, [{"model": "deepseek-v4-pro", "cache_hit": "9", "cache_miss": "9", "output": "9"}])
    table = load_table(home, {"deepseek-v4-pro": {"cache_hit": 0, "cache_miss": "0.5", "output": "$1"}})
    price = table.price_for("deepseek-v4-pro", utc("2026-10-14T02:00:00"))
    assert price is not None and price.origin == "%config"
    # 0 + 0.1*0.5 + 0.05*1 = 0.1
    assert price.cost(BIG) == Decimal("0.1")


def test_user_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_user_prices(home, [{"model": "m", "cache_hit": "1", "cache_miss": "1", "output": "1"}])
    assert load_table(home).price_for("m", utc("2026-01-01T00:00:00")).output == 1  # type: ignore[union-attr]
    write_user_prices(home, [{"model": "m", "cache_hit": "1", "cache_miss": "1", "output": "22"}])
    os.utime(home / "prices.json", ns=(1, 10**18))
    assert load_table(home).price_for("m", utc("2026-01-01T00:00:00")).output == 22  # type: ignore[union-attr]


def test_default_home_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EVO_MAGIC_HOME", str(tmp_path / "elsewhere"))
    assert pricing.home_dir() == tmp_path / "elsewhere"
    write_user_prices(tmp_path / "elsewhere", [{"model": "x", "cache_hit": 1, "cache_miss": 1, "output": 1}])
    assert load_table().price_for("x", utc("2026-01-01T00:00:00")) is not None
    assert pricing.home_dir({}) == Path.home() / ".evo_magic"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([{"model": "m", "cache_hit": "abc", "cache_miss": 1, "output": 1}], "cache_hit"),
        ([{"model": "m", "cache_hit": "-1", "cache_miss": 1, "output": 1}], "not a price"),
        ([{"model": "m", "period": "night", "cache_hit": 1, "cache_miss": 1, "output": 1}], "period"),
        ([{"cache_hit": 1, "cache_miss": 1, "output": 1}], "model name"),
        ([{"model": "m", "effective_from": "soon", "cache_hit": 1, "cache_miss": 1, "output": 1}], "ISO"),
        ({"off_peak_dates": ["2027-13-01"]}, "off_peak_dates"),
        ({"peak_schedules": [{"effective_from": "2027-01-01", "weekdays": ["someday"]}]}, "weekdays"),
    ],
)
def test_bad_user_data_is_a_config_error_naming_the_place(tmp_path: Path, data: object, fragment: str) -> None:
    write_user_prices(tmp_path / "home", data)
    with pytest.raises(ConfigError, match=fragment) as info:
        load_table(tmp_path / "home")
    assert "prices.json" in str(info.value)


def test_unreadable_user_file(tmp_path: Path) -> None:
    (tmp_path / "prices.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read price data"):
        load_table(tmp_path)


def test_shipped_entries_need_a_date() -> None:
    with pytest.raises(ConfigError, match="effective_from"):
        pricing.parse_layer([{"model": "m", "cache_hit": 1, "cache_miss": 1, "output": 1}], 0, "shipped")


# --- estimates and money -------------------------------------------------------------------


def test_estimate_tokens() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a" * 350) == 105  # 0.3 per ASCII character
    assert estimate_tokens("数" * 100) == 60  # 0.6 per other character
    assert estimate_tokens("ab数") == 2  # 0.3 + 0.3 + 0.6 = 1.2, rounded up
    assert estimate_tokens("x" * 400_000) == 120_000


def test_input_cost_estimate_uses_the_miss_price() -> None:
    # 120,000 tokens at v4-flash's peak cache-miss price 0.44: 0.12 * 0.44 = 0.0528
    assert input_cost(120_000, "deepseek-v4-flash", utc("2026-08-17T02:00:00")) == Decimal("0.0528")
    assert input_cost(120_000, "unknown-model", utc("2026-08-17T02:00:00")) is None


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (None, "unknown"),
        (Decimal(0), "$0.00"),
        (Decimal("0.00004"), "<$0.0001"),
        (Decimal("0.0012"), "$0.0012"),
        (Decimal("0.00125"), "$0.0012"),  # banker's rounding at the 4th decimal
        (Decimal("0.45"), "$0.45"),
        (Decimal("0.451"), "$0.451"),
        (Decimal("0.1"), "$0.10"),
        (Decimal("1.62"), "$1.62"),
        (Decimal("1234.567"), "$1,234.57"),
        (Decimal("-0.5"), "-$0.50"),
    ],
)
def test_format_money(amount: Decimal | None, text: str) -> None:
    assert format_money(amount) == text


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (None, "unknown"),
        (Decimal(0), "$0.0000"),
        (Decimal("0.00004"), "<$0.0001"),
        (Decimal("0.003"), "$0.0030"),
        (Decimal("0.45"), "$0.4500"),
        (Decimal("0.99996"), "$1.00"),  # rounds to a dollar: reads as one
        (Decimal("1234.567"), "$1,234.57"),
        (Decimal("-0.5"), "-$0.5000"),
    ],
)
def test_fixed_money_keeps_four_decimals_under_a_dollar(amount: Decimal | None, text: str) -> None:
    assert format_money(amount, fixed=True) == text


@given(st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("9999.99"), places=6))
def test_fixed_money_has_one_width_under_a_dollar_and_reads_back(amount: Decimal) -> None:
    """A growing figure ($0.0008, $0.0030, $0.0123) keeps its width: no jitter in a live line."""
    text = format_money(amount, fixed=True)
    number = Decimal(text.lstrip("$").replace(",", ""))
    if number < 1:
        assert len(text) == len("$0.0000") and abs(number - amount) <= Decimal("0.00005")
    else:
        assert text.partition(".")[2].isdigit() and len(text.partition(".")[2]) == 2
        assert abs(number - amount) <= Decimal("0.005")


@given(at=st.one_of(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2999, 1, 1)), AWARE))
def test_as_utc_is_the_same_instant_in_utc_and_naive_means_utc(at: datetime) -> None:
    utc = pricing.as_utc(at)
    assert utc.tzinfo is timezone.utc
    # the same instant: compared as timestamps, since == across zones is False for a wall time in
    # a daylight-saving gap or fold (PEP 495), which Hypothesis finds (2038-03-14 02:00 in Menominee)
    assert utc.timestamp() == (at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at).timestamp()


def test_money_reads_the_same_from_the_display_layer() -> None:
    from evo_magic.display import money

    assert pricing.format_money is money.format_money and pricing.if_billed is money.if_billed
    assert money.format_money(Decimal("0.00123")) == "$0.0012" and money.format_money(None) == "unknown"
    assert money.if_billed("$0.0001") == "$0.0001 if billed (emulator)"
