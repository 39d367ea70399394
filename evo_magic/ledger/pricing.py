"""Prices as dated data, and the cost of a request (pure; reads only small JSON files).

The table ships as ``evo_magic/ledger/prices.json``: per model, USD per 1M tokens for cache-hit
input, cache-miss input and output, each entry with the instant it took effect (UTC), its
period (``all``, ``peak`` or ``off_peak``) and its source. An entry holds until a later one
for the same model; ``null`` prices mean "no known price from then on" (a retired model).

Peak and off-peak (DeepSeek, since 2026-08-16 16:00 UTC; off-peak is half the peak price):
peak is 01:00–04:00 and 06:00–10:00 UTC, Monday to Friday (09–12 and 14–18 Beijing time);
weekends are off-peak. Those windows are data too (``peak_schedules``: the latest schedule in
force decides). **Chinese public holidays are off-peak only when listed** in the data's
``off_peak_dates`` (Beijing calendar dates); the shipped list covers the announced 2026
holidays, later years must be added by a user file until the package is updated. Weekend
make-up working days are not modelled (DeepSeek says Monday to Friday).

Layers, lowest first: the shipped table (0), ``prices.json`` in ``EVO_MAGIC_HOME`` (1),
a ``%config`` dict (2). For a model at an instant, the highest layer that has an entry in
force wins, then the latest entry of that layer; user entries without ``effective_from``
are in force at every instant, so they simply replace the shipped prices of their model.

Cost (DeepSeek): ``hit * P_hit + miss * P_miss + completion * P_out`` per million tokens;
reasoning tokens are part of ``completion_tokens`` and billed as output. Money is
:class:`~decimal.Decimal`; an unknown price is ``None``, never 0.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Literal, NamedTuple, TypeAlias

from ..core.usage import Usage
from ..display.money import format_money as format_money  # where the ledger's callers found it
from ..display.money import if_billed as if_billed
from ..errors import ConfigError

Period: TypeAlias = Literal["all", "peak", "off_peak"]
PERIODS: tuple[Period, ...] = ("all", "peak", "off_peak")
MILLION = Decimal(1_000_000)
USER_FILE = "prices.json"
HOME_VAR = "EVO_MAGIC_HOME"
BEIJING = timezone(timedelta(hours=8))
ALWAYS = datetime(1970, 1, 1, tzinfo=timezone.utc)  # effective_from of undated user entries
_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_LAYER_NAMES = {0: "shipped", 1: "user file", 2: "%config"}


def home_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$EVO_MAGIC_HOME`` (``~`` expanded), else ``~/.evo_magic``: the ledger and user prices."""
    env = os.environ if environ is None else environ
    value = (env.get(HOME_VAR) or "").strip()
    return Path(value).expanduser() if value else Path.home() / ".evo_magic"


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens of one model in one period, with when it took effect and why."""

    model: str
    effective_from: datetime
    period: Period
    cache_hit: Decimal
    cache_miss: Decimal
    output: Decimal
    source: str
    layer: int = 0

    def cost(self, usage: Usage) -> Decimal:
        """Exact cost of ``usage`` at this price (reasoning is inside completion tokens)."""
        return (
            usage.cache_hit_tokens * self.cache_hit
            + usage.cache_miss_tokens * self.cache_miss
            + usage.completion_tokens * self.output
        ) / MILLION

    @property
    def origin(self) -> str:
        """Which layer the price came from: shipped, user file or %config."""
        return _LAYER_NAMES.get(self.layer, str(self.layer))


class _Entry(NamedTuple):
    model: str
    effective_from: datetime
    period: Period
    layer: int
    price: Price | None  # None: no known price from effective_from on


@dataclass(frozen=True)
class PeakSchedule:
    """When peak prices apply: weekdays (0 = Monday, UTC) and ``[start, end)`` UTC windows."""

    effective_from: datetime
    weekdays: frozenset[int]
    windows: tuple[tuple[int, int], ...]  # seconds since midnight UTC
    source: str = ""
    layer: int = 0

    def is_peak(self, at: datetime) -> bool:
        if at.weekday() not in self.weekdays:
            return False
        second = at.hour * 3600 + at.minute * 60 + at.second
        return any(
            start <= second < end if start <= end else (second >= start or second < end) for start, end in self.windows
        )


class _Layer(NamedTuple):
    entries: tuple[_Entry, ...]
    schedules: tuple[PeakSchedule, ...]
    off_peak_dates: frozenset[date]


class PriceTable:
    """The merged price table: entries per model, peak schedules and off-peak dates."""

    def __init__(self, layers: Iterable[_Layer] = ()):
        self._layers = tuple(layers)
        self._by_model: dict[str, list[_Entry]] = {}
        for layer in self._layers:
            for entry in layer.entries:
                self._by_model.setdefault(entry.model, []).append(entry)
        self.schedules = tuple(
            sorted((s for lay in self._layers for s in lay.schedules), key=lambda s: (s.effective_from, s.layer))
        )
        self.off_peak_dates = frozenset(d for lay in self._layers for d in lay.off_peak_dates)

    def with_layer(self, data: object, layer: int, origin: str) -> PriceTable:
        """A new table with ``data`` (table or ``{model: prices}`` form) added as ``layer``."""
        return PriceTable((*self._layers, parse_layer(data, layer, origin)))

    def models(self) -> list[str]:
        return sorted(self._by_model)

    def period_at(self, at: datetime) -> Literal["peak", "off_peak"]:
        """``"peak"`` or ``"off_peak"`` at ``at`` by the schedule in force (peak without one)."""
        at = as_utc(at)
        schedule = next((s for s in reversed(self.schedules) if s.effective_from <= at), None)
        if schedule is None:
            return "peak"
        if at.astimezone(BEIJING).date() in self.off_peak_dates:
            return "off_peak"
        return "peak" if schedule.is_peak(at) else "off_peak"

    def price_for(self, model: str, at: datetime) -> Price | None:
        """The price of ``model`` in force at ``at`` (naive means UTC), or None when unknown."""
        at = as_utc(at)
        live = [e for e in self._by_model.get(_model_key(model), ()) if e.effective_from <= at]
        if not live:
            return None
        top = max((e.layer, e.effective_from) for e in live)
        group = {e.period: e for e in live if (e.layer, e.effective_from) == top}
        wanted = self.period_at(at) if set(group) - {"all"} else "all"
        chosen = group.get(wanted) or group.get("all")
        return chosen.price if chosen is not None else None


def parse_layer(data: object, layer: int, origin: str) -> _Layer:
    """Validate one layer of price data; raises :class:`ConfigError` naming ``origin``.

    Accepted forms: the shipped form ``{"prices": [...], "peak_schedules": [...],
    "off_peak_dates": [...] | {"dates": [...]}}``, a bare list of entries, or (handy in
    ``%config``) ``{model: {"cache_hit": ..., "cache_miss": ..., "output": ...}}``
    whose values may also be lists of entries.
    """
    if isinstance(data, list):
        data = {"prices": data}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{origin}: price data must be a JSON object or list, not {type(data).__name__}")
    if not ({"prices", "peak_schedules", "off_peak_dates"} & set(data)):
        entries: list[object] = []
        for model, value in data.items():
            for item in value if isinstance(value, list) else [value]:
                entries.append({**item, "model": model} if isinstance(item, Mapping) else item)
        data = {"prices": entries}
    default_from = ALWAYS if layer else None
    entries_out = tuple(
        _entry(item, layer, f"{origin}: price {i + 1}", default_from) for i, item in enumerate(data.get("prices") or [])
    )
    schedules = tuple(
        _schedule(item, layer, f"{origin}: peak schedule {i + 1}")
        for i, item in enumerate(data.get("peak_schedules") or [])
    )
    dates = data.get("off_peak_dates") or []
    if isinstance(dates, Mapping):
        dates = dates.get("dates") or []
    if not isinstance(dates, list):
        raise ConfigError(f"{origin}: off_peak_dates must be a list of YYYY-MM-DD dates")
    try:
        days = frozenset(date.fromisoformat(str(d)) for d in dates)
    except ValueError as exc:
        raise ConfigError(f"{origin}: off_peak_dates: {exc}") from None
    return _Layer(entries_out, schedules, days)


def _entry(item: object, layer: int, where: str, default_from: datetime | None) -> _Entry:
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where}: must be an object with model, cache_hit, cache_miss and output")
    model = item.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"{where}: needs a model name")
    period = item.get("period", "all")
    if period not in PERIODS:
        raise ConfigError(f"{where}: period must be one of {', '.join(PERIODS)}, not {period!r}")
    raw_from = item.get("effective_from")
    effective = default_from if raw_from is None else _instant(raw_from, where)
    if effective is None:
        raise ConfigError(f"{where}: needs effective_from (an ISO date-time, UTC)")
    hit, miss, out = (_usd(item.get(k), f"{where} ({model}): {k}") for k in ("cache_hit", "cache_miss", "output"))
    source = str(item.get("source") or _LAYER_NAMES.get(layer, "user"))
    price = None
    if hit is not None and miss is not None and out is not None:
        price = Price(model.strip(), effective, period, hit, miss, out, source, layer)
    return _Entry(_model_key(model), effective, period, layer, price)


def _schedule(item: object, layer: int, where: str) -> PeakSchedule:
    if not isinstance(item, Mapping) or "effective_from" not in item:
        raise ConfigError(f"{where}: needs effective_from, weekdays and peak_utc")
    try:
        days = frozenset(_WEEKDAYS[str(d).lower()[:3]] for d in item.get("weekdays") or [])
        windows = tuple((_clock(a), _clock(b)) for a, b in item.get("peak_utc") or [])
    except (KeyError, ValueError, TypeError):
        raise ConfigError(f"{where}: weekdays are mon..sun and peak_utc a list of [HH:MM, HH:MM]") from None
    return PeakSchedule(_instant(item["effective_from"], where), days, windows, str(item.get("source", "")), layer)


def _clock(text: str) -> int:
    hours, minutes = str(text).split(":")
    value = int(hours) * 3600 + int(minutes) * 60
    if not 0 <= value <= 86400:
        raise ValueError(text)
    return value


def _instant(value: object, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{where}: effective_from {value!r} is not an ISO date-time") from None
    return as_utc(parsed)


def _usd(value: object, where: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{where}: {value!r} is not a price")
    try:
        amount = Decimal(str(value).strip().lstrip("$"))
    except InvalidOperation:
        raise ConfigError(f"{where}: {value!r} is not a decimal number of USD per 1M tokens") from None
    if not amount.is_finite() or amount < 0:
        raise ConfigError(f"{where}: {value!r} is not a price")
    return amount


def as_utc(at: datetime) -> datetime:
    """``at`` as an aware UTC datetime: the same instant, a naive one taken as UTC (the
    ledger's, the price table's and the charts' rule)."""
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


def _model_key(model: str) -> str:
    return model.strip().lower()


@functools.lru_cache(maxsize=1)
def shipped_table() -> PriceTable:
    """The table shipped in the package (``evo_magic/ledger/prices.json``), parsed once."""
    text = resources.files(__package__ or "evo_magic.ledger").joinpath(USER_FILE).read_text(encoding="utf-8")
    return PriceTable([parse_layer(json.loads(text), 0, "evo_magic/ledger/prices.json")])


@functools.lru_cache(maxsize=8)
def _user_layer(path: str, mtime_ns: int, size: int) -> _Layer:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read price data ({exc})") from None
    return parse_layer(data, 1, path)


def load_table(home: Path | None = None, overrides: object = None) -> PriceTable:
    """Shipped prices, then ``prices.json`` in ``home`` (default :func:`home_dir`), then
    ``overrides`` (the ``%config`` dict). The user file is re-read only when it changes."""
    table = shipped_table()
    path = (home if home is not None else home_dir()) / USER_FILE
    try:
        stat = path.stat()
    except OSError:
        stat = None
    if stat is not None:
        table = PriceTable((*table._layers, _user_layer(str(path), stat.st_mtime_ns, stat.st_size)))
    if overrides:
        table = table.with_layer(overrides, 2, "%config prices")
    return table


def billed_model(requested: str, answered: str | None) -> str:
    """The model to price: the one that answered (``deepseek-chat`` is answered by
    ``deepseek-v4-flash``), else the one requested."""
    return (answered or "").strip() or requested


def price_for(model: str, at: datetime, table: PriceTable | None = None) -> Price | None:
    """The price of ``model`` at ``at`` (default table: the shipped one), or None."""
    return (table or shipped_table()).price_for(model, at)


def cost(usage: Usage | None, model: str, at: datetime, table: PriceTable | None = None) -> Decimal | None:
    """Exact cost of ``usage`` for ``model`` at ``at``; None when usage or price is unknown."""
    price = price_for(model, at, table)
    return None if usage is None or price is None else price.cost(usage)


def input_cost(tokens: int, model: str, at: datetime, table: PriceTable | None = None) -> Decimal | None:
    """Upper-bound estimate of a prompt's input cost: every token at the cache-miss price."""
    price = price_for(model, at, table)
    return None if price is None else tokens * price.cache_miss / MILLION


def estimate_tokens(text: str) -> int:
    """Fast token estimate, no tokenizer: DeepSeek's rule of thumb is ~0.3 token per English
    character and ~0.6 per Chinese character, so ASCII counts 0.3 (about 1 token per 3.3
    characters, a little above the ~3.5 of mixed prose and code) and any other character
    0.6. Rounded up; good to ~±20 %, which is enough to flag a 100k-token prompt. The API's
    real count also includes hidden tokens (thinking mode adds some)."""
    ascii_chars = len(text) if text.isascii() else len(text.encode("ascii", "ignore"))
    other = len(text) - ascii_chars
    return math.ceil((3 * ascii_chars + 6 * other) / 10)
