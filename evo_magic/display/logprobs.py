"""``--logprobs``: the token log-probabilities of an answer as a compact view (pure).

In HTML the answer's tokens flow as text, each an inline chip shaded by how unlikely the model
found it (five steps, from clear to amber, readable in light and dark themes); hovering a chip
tells its probability and the top alternatives. A summary line says how many tokens and how sure
the model was, and a folded table lists the least likely tokens with their alternatives. As text
it is a few lines within 100 columns. Tokens are untrusted model output: everything is escaped.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from .notices import NO_MATH, clip, plural

__all__ = ["LogprobsView", "TokenProb"]

LIMIT = 2_000  # chips shown; the summary counts every token
LEAST = 5  # least likely tokens in the text form (10 in the HTML table)
FLOOR = -9_999  # DeepSeek's logprob for a token outside the top 20
_STEPS = (0.9, 0.7, 0.5, 0.3)  # p at or above: shade 0, 1, 2, 3; below: 4


@dataclass(frozen=True)
class TokenProb:
    """One token: its text, its probability (None: not in the top 20) and the alternatives."""

    token: str
    p: float | None
    alternatives: tuple[tuple[str, float], ...]

    @classmethod
    def of(cls, entry: object) -> TokenProb | None:
        if not isinstance(entry, dict):
            return None
        alts = tuple(
            (str(a.get("token", "")), _p(a.get("logprob")) or 0.0)
            for a in entry.get("top_logprobs") or []
            if isinstance(a, dict) and str(a.get("token", "")) != str(entry.get("token", ""))
        )
        return cls(str(entry.get("token", "")), _p(entry.get("logprob")), alts)

    @property
    def shade(self) -> int:
        return next((i for i, step in enumerate(_STEPS) if self.p is not None and self.p >= step), len(_STEPS))

    def describe(self, alternatives: int = 3) -> str:
        """``' tok' 15.6 % (alternatives: 'a' 7.7 %, 'b' 3.8 %)``."""
        alts = ", ".join(f"{t!r} {_percent(p)}" for t, p in self.alternatives[:alternatives])
        return f"{self.token!r} {_percent(self.p)}" + (f" (alternatives: {alts})" if alts else "")


def _p(logprob: object) -> float | None:
    if isinstance(logprob, (int, float)) and not isinstance(logprob, bool) and logprob > FLOOR:
        return math.exp(min(logprob, 0.0))
    return None


def _percent(p: float | None) -> str:
    return "not in the top 20" if p is None else f"{p:.1%}".replace("%", " %")


class LogprobsView:
    """The log-probabilities of an answer's tokens (the API's ``logprobs.content`` entries)."""

    def __init__(self, entries: Sequence[object], limit: int = LIMIT):
        self.tokens = [t for t in (TokenProb.of(e) for e in entries) if t is not None]
        self.limit = limit

    def least_likely(self, n: int) -> list[TokenProb]:
        return sorted(self.tokens, key=lambda t: -1.0 if t.p is None else t.p)[:n]

    def summary(self) -> str:
        """``215 tokens, median p 95.0 %, 31 under 50 %``."""
        known = [t.p for t in self.tokens if t.p is not None]
        parts = [plural(len(self.tokens), "token")]
        if known:
            parts.append(f"median p {_percent(statistics.median(known))}")
            unsure = sum(1 for t in self.tokens if t.p is None or t.p < 0.5)
            parts.append(f"{unsure:,} under 50 %")
        return ", ".join(parts)

    def __repr__(self) -> str:
        lines = [clip(f"Token log-probabilities: {self.summary()}", 100)]
        head = "Least likely: "
        for i, token in enumerate(self.least_likely(LEAST)):
            lines.append((head if i == 0 else " " * len(head)) + clip(token.describe(), 100 - len(head)))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        chips = "".join(
            f'<span class="evo-lp evo-lp{t.shade}" title="{escape(_tip(t))}">{escape(t.token)}</span>'
            for t in self.tokens[: self.limit]
        )
        shown = len(self.tokens[: self.limit])
        more = f" · first {shown:,} of {len(self.tokens):,} tokens" if shown < len(self.tokens) else ""
        rows = "".join(
            f"<tr><td><code>{escape(repr(t.token))}</code></td><td>{escape(_percent(t.p))}</td>"
            f"<td>{escape(', '.join(f'{a!r} {_percent(p)}' for a, p in t.alternatives))}</td></tr>"
            for t in self.least_likely(10)
        )
        table = (
            "<details><summary>Least likely tokens</summary><table><thead><tr><th>token</th><th>p</th>"
            f"<th>top alternatives</th></tr></thead><tbody>{rows}</tbody></table></details>"
        )
        return (
            f'<div class="evo-logprobs {NO_MATH}"><style>{_CSS}</style>'
            f'<div class="evo-lp-head">Token log-probabilities · {escape(self.summary())}{more}'
            ' · <span class="evo-lp-key">shade: how unlikely</span></div>'
            f'<div class="evo-lp-tokens">{chips}</div>{table}</div>'
        )


def _tip(t: TokenProb) -> str:
    alts = ", ".join(f"{a.strip() or repr(a)} {_percent(p)}" for a, p in t.alternatives)
    return f"{t.token.strip() or repr(t.token)} · p {_percent(t.p)}" + (f" · alternatives: {alts}" if alts else "")


_AMBER = "217,119,6"  # amber: reads on white and on dark backgrounds
_ALPHAS = (0, 0.15, 0.3, 0.45, 0.65)  # shade 0 (p >= 90 %) to 4 (p < 30 %)
_CSS = (
    ".evo-logprobs .evo-lp-head{opacity:.8;font-size:.9em;margin-bottom:4px}"
    ".evo-logprobs .evo-lp-tokens{white-space:pre-wrap;line-height:1.7;"
    "font-family:var(--jp-code-font-family,monospace);font-size:var(--jp-code-font-size,13px)}"
    ".evo-logprobs .evo-lp{border-radius:3px;cursor:help}"
    + "".join(f".evo-logprobs .evo-lp{i}{{background:rgba({_AMBER},{a})}}" for i, a in enumerate(_ALPHAS))
    + f".evo-logprobs .evo-lp-key{{background:linear-gradient(90deg,transparent,rgba({_AMBER},.65));padding:0 4px}}"
    ".evo-logprobs table{margin-top:4px}.evo-logprobs td,.evo-logprobs th{text-align:left;padding:1px 8px}"
)
