"""Markdown to safe HTML, whole (:func:`render_markdown`) and incrementally (:class:`MarkdownStream`).

Pure module: strings in, strings out. Model output is untrusted, so the renderer is
markdown-it-py's CommonMark with raw HTML **off** (``<script>`` and ``<img onerror=...>`` come
out as escaped text), plus tables and strikethrough. Links and image sources keep only
http, https, mailto, relative URLs and ``#anchors``; links open in a new tab with
``rel="noopener noreferrer nofollow"``. Images are shown as links, never loaded: an image URL
written by the model is a known way to leak data from the conversation (the browser would
fetch ``https://attacker/?q=<secret>`` on its own).

No text of the answer is lost: past markdown-it's nesting limit (a list nested about nine
levels deep, a quote eighteen) the parser would drop the rest of the document, so the rest of
such a deep container is shown as written in a ``<pre class="evo-deep">``; a table row with
more cells than its header keeps the extra cells; an image's title stays in its link.

:class:`MarkdownStream` turns a growing document into small deltas for the live view: HTML of
finished top-level blocks is sent once, and the unfinished last block is sent as
``keep`` (UTF-16 code units of the previous tail HTML that stay) + ``append`` (the new rest).
markdown-it-py is imported on first use, so importing this module costs nothing.

:func:`close_markdown` (:mod:`~evo_magic.display.closing`) closes the inline markup an answer
cut short (Stop, Ctrl-C, an error) left open, so its final render shows ``**In`` as bold "In",
not as two asterisks.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict
from urllib.parse import unquote

from .closing import LINE_BREAK, close_markdown
from .highlight import highlight

if TYPE_CHECKING:
    from collections.abc import Sequence

    from markdown_it import MarkdownIt
    from markdown_it.renderer import RendererHTML
    from markdown_it.rules_block import StateBlock
    from markdown_it.token import Token
    from markdown_it.utils import EnvType, OptionsDict

__all__ = [
    "Delta",
    "DeltaMessage",
    "MarkdownStream",
    "close_markdown",
    "common_prefix",
    "is_safe_link",
    "render_markdown",
    "utf16_len",
]

#: Link reference definitions as markdown-it keeps them: label -> {"href": ..., "title": ...}.
References: TypeAlias = dict[str, dict[str, str]]

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f]+")

#: A list opens two levels (list, item) before its content is parsed, a quote one: from this
#: many levels under markdown-it's ``maxNesting`` on, the rest of a container is shown as written.
DEEP_MARGIN = 2
DEEP_TITLE = "nested too deeply to lay out: shown as written"


def is_safe_link(url: str) -> bool:
    """True for http(s) and mailto URLs, relative URLs and ``#anchors``; False for any other scheme.

    Entities and percent-escapes are decoded and whitespace / control characters removed
    before the scheme is read, so ``JaVaScRiPt:``, ``java%0Ascript:`` and ``&#106;avascript:``
    are all refused.
    """
    squeezed = _INVISIBLE.sub("", unquote(html.unescape(url))).lower()
    scheme = _SCHEME.match(squeezed)
    return scheme is None or scheme.group(1) in SAFE_SCHEMES


def _link_open(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    token.attrSet("rel", LINK_REL)
    token.attrSet("target", "_blank")
    return self.renderToken(tokens, idx, options, env)


def _plain(tokens: Sequence[Token]) -> str:
    """The text of inline tokens (an image's alt text), code spans and line breaks included."""
    out = []
    for token in tokens:
        if token.type in ("text", "code_inline"):
            out.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif token.children:
            out.append(_plain(token.children))
    return "".join(out)


def _image(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    alt = html.escape(_plain(token.children or [])) or "image"
    src = str(token.attrGet("src") or "")
    if not src:
        return f"[{alt}]"
    title = token.attrGet("title")
    tip = f' title="{html.escape(str(title))}"' if title else ""
    link = f'<a class="evo-image-link" href="{html.escape(src)}"{tip} rel="{LINK_REL}" target="_blank">'
    return f"{link}[image: {alt}]</a>"


def _fence(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    """A fenced code block, highlighted by Pygments when its language is known (unless the
    ``env`` says ``highlight=False``: the open tail of a streamed answer)."""
    from markdown_it.common.utils import unescapeAll

    token = tokens[idx]
    info = unescapeAll(token.info).strip()
    language = info.split(maxsplit=1)[0] if info else ""
    code = highlight(token.content, language) if env.get("highlight", True) else None
    if code is None:
        return self.fence(tokens, idx, options, env)
    return f'<pre><code class="language-{html.escape(language)} evo-hl">{code}</code></pre>\n'


def _too_deep(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """Block rule, first of all: where one more list or quote could pass markdown-it's nesting
    limit (past it, the parser drops the rest of the document), show the rest of this
    container as written, in a ``<pre class="evo-deep">``, instead of losing it."""
    if silent or state.level < state.md.options["maxNesting"] - DEEP_MARGIN:
        return False
    line = last = start
    while line < end and (state.isEmpty(line) or state.sCount[line] >= state.blkIndent):
        line += 1
        if not state.isEmpty(line - 1):
            last = line
    token = state.push("evo_deep", "pre", 0)
    token.content = state.getLines(start, last, state.blkIndent, False)
    token.map = [start, last]
    state.line = last
    return True


def _render_deep(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    return f'<pre class="evo-deep" title="{DEEP_TITLE}">{html.escape(tokens[idx].content, quote=False)}</pre>\n'


def _table(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """markdown-it's GFM table rule, but a body row with more cells than the header keeps them
    all (the rule drops the extra cells, and with them text of the answer)."""
    from markdown_it.rules_block.table import escapedSplit, getLine, table
    from markdown_it.token import Token

    first = len(state.tokens)
    if silent or not table(state, start, end, False):
        return silent and table(state, start, end, True)
    tokens = state.tokens
    columns = sum(t.type == "th_open" for t in tokens[first:])
    for i in range(len(tokens) - 1, first, -1):
        row = tokens[i]
        if row.type != "tr_open" or not row.map or row.map[0] == start:
            continue
        cells = escapedSplit(getLine(state, row.map[0]).strip())
        cells = cells[1:] if cells and not cells[0].strip() else cells
        cells = cells[:-1] if cells and not cells[-1].strip() else cells
        extra: list[Token] = []
        for text in cells[columns:]:
            level = row.level + 1
            extra += [
                Token("td_open", "td", 1, level=level, block=True),
                Token("inline", "", 0, level=level + 1, content=text.strip(), map=row.map, children=[], block=True),
                Token("td_close", "td", -1, level=level, block=True),
            ]
        close = next(j for j in range(i, len(tokens)) if tokens[j].type == "tr_close")
        tokens[close:close] = extra
    return True


@cache
def _md() -> MarkdownIt:
    """The one configured parser (built on first use; markdown-it-py is imported here)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.block.ruler.at("table", _table, {"alt": ["paragraph", "reference"]})
    md.enable("table").enable("strikethrough")
    md.block.ruler.before("table", "evo_deep", _too_deep)
    md.validateLink = is_safe_link  # type: ignore[method-assign]
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("image", _image)
    md.add_render_rule("fence", _fence)
    md.add_render_rule("evo_deep", _render_deep)
    return md


def render_markdown(text: str, references: References | None = None, *, highlight: bool = True) -> str:
    """Safe HTML for markdown ``text``; code blocks in a known language are highlighted
    (:mod:`evo_magic.display.highlight`) unless ``highlight`` is False.

    ``references`` (link reference definitions, markdown-it's ``env["references"]``) are
    known before parsing and receive the definitions ``text`` adds; :class:`MarkdownStream`
    uses it to carry definitions from one committed part to the next.
    """
    env: EnvType = {"references": references if references is not None else {}, "highlight": highlight}
    rendered: str = _md().render(text, env)
    return rendered


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of JavaScript string indexes."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def common_prefix(a: str, b: str) -> int:
    """Length (in characters) of the longest common prefix of ``a`` and ``b``.

    Bisects with slice comparisons (C speed) instead of a character loop in Python.
    """
    hi = min(len(a), len(b))
    if a[:hi] == b[:hi]:
        return hi
    lo = 0  # invariant: a[:lo] == b[:lo] and a[:hi + 1] != b[:hi + 1]
    hi -= 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


class _Tail(TypedDict):
    k: int  # keep: UTF-16 units of the tail HTML that stay
    a: str  # append: HTML after them


class DeltaMessage(_Tail, total=False):
    """:meth:`Delta.to_message`: ``k`` and ``a`` always, ``m`` and ``c`` when not empty."""

    m: int  # moved: UTF-16 units of the tail that became a committed block
    c: list[str]  # committed: HTML of new committed blocks


@dataclass(frozen=True)
class Delta:
    """One step of an incremental render. The front end applies it in this order:

    1. ``moved``: the first ``moved`` UTF-16 units of its tail HTML become a committed block
       (the tail already showed exactly that HTML, so it is not sent again);
    2. ``committed``: these HTML strings are appended as committed blocks;
    3. ``tail = tail[:keep] + append`` (``keep`` in UTF-16 units, counted after step 1).
    """

    moved: int = 0
    committed: tuple[str, ...] = ()
    keep: int = 0
    append: str = ""
    changed: bool = True

    def to_message(self) -> DeltaMessage:
        """The compact JSON form sent to the browser: ``{"m", "c", "k", "a"}``, defaults left out."""
        msg: DeltaMessage = {"k": self.keep, "a": self.append}
        if self.moved:
            msg["m"] = self.moved
        if self.committed:
            msg["c"] = list(self.committed)
        return msg


class MarkdownStream:
    """Incremental markdown rendering of an append-only document.

    ``update(source)`` takes the whole document so far and returns the :class:`Delta` from
    what was sent before. Everything before the start of the last top-level block (found
    from markdown-it's token line maps, judged on complete lines only) is *committed*: its
    HTML is sent once and never re-rendered. Only the uncommitted tail is parsed, so a step
    costs O(tail), and the bytes sent grow linearly even for one huge block (a long code
    fence or list), because the tail goes out as keep + append.

    Committed blocks are rendered as the final answer is (code highlighted); the open tail is
    not highlighted, so a code block being written costs no Pygments run per update.

    Harmless difference from rendering the whole document at once: a reference-style link
    whose definition arrives after the block using it was committed stays unresolved (the
    final static render resolves it).
    """

    def __init__(self) -> None:
        self._seen = 0  # characters of source taken so far
        self._committed = 0  # characters of source committed
        self._checked = 0  # source offset of complete lines already checked for commits
        self._references: References = {}  # definitions in committed text
        self._tail_html = ""  # the tail HTML the front end holds
        self._tail_units = 0  # utf16_len(self._tail_html)

    @property
    def committed(self) -> int:
        """How many characters of the source are committed (rendered for good)."""
        return self._committed

    @property
    def tail_html(self) -> str:
        """The HTML of the uncommitted tail, as last sent."""
        return self._tail_html

    def update(self, source: str) -> Delta:
        """The delta that brings the front end from the previous ``source`` to this one."""
        if len(source) < self._seen:
            raise ValueError("MarkdownStream sources must only grow")
        if len(source) == self._seen:
            return Delta(keep=self._tail_units, changed=False)
        self._seen = len(source)
        old_tail = self._tail_html
        moved = 0
        committed: tuple[str, ...] = ()
        cut, block = self._commit(source)
        if cut > self._committed:
            self._committed = cut
            if old_tail.startswith(block):
                moved, old_tail = utf16_len(block), old_tail[len(block) :]
            else:
                committed = (block,)
        new_tail = render_markdown(source[self._committed :], dict(self._references), highlight=False)
        same = common_prefix(old_tail, new_tail)
        self._tail_html = new_tail
        self._tail_units = utf16_len(new_tail)
        keep = same if new_tail.isascii() else utf16_len(new_tail[:same])
        return Delta(moved, committed, keep, new_tail[same:])

    def _commit(self, source: str) -> tuple[int, str]:
        """Where the committed part of ``source`` now ends, and the HTML of what it gains: all
        before the last top-level block of the tail's complete lines (a line still being
        written could change how the lines before it parse). The tail's complete lines are
        parsed once; the blocks before the last are rendered from that parse (so they are
        not parsed again), with the link definitions they hold joining the carried ones."""
        complete = source.rfind("\n", self._committed) + 1
        if complete <= self._checked:
            return self._committed, ""
        self._checked = complete
        text = source[self._committed : complete]
        tokens: list[Token] = []
        md = _md()
        found: dict[str, Any] = {}  # label -> {"href", "title", "map": [first line, end]}
        md.block.parse(LINE_BREAK.sub("\n", text).replace("\0", "\ufffd"), md, {"references": found}, tokens)
        starts = [i for i, t in enumerate(tokens) if t.level == 0 and t.nesting >= 0 and t.map]
        if len(starts) < 2:
            return self._committed, ""
        last = tokens[starts[-1]]
        assert last.map is not None
        for label, ref in found.items():  # the definitions in the committed blocks (first one wins)
            if ref["map"][0] < last.map[0]:
                self._references.setdefault(label, ref)
        return self._committed + _line_offset(text, last.map[0]), _render_tokens(tokens[: starts[-1]], self._references)


def _render_tokens(tokens: list[Token], references: References) -> str:
    """HTML of parsed block tokens, as :func:`render_markdown` gives it for their source: the
    core rules after the block parse (inline, text join) run on them, then the renderer, code
    highlighted."""
    from markdown_it.rules_core import StateCore, block

    md = _md()
    env: EnvType = {"references": references, "highlight": True}
    state = StateCore("", md, env)
    state.tokens = tokens
    rules = md.core.ruler.getRules("")
    for rule in rules[rules.index(block) + 1 :]:
        rule(state)
    rendered: str = md.renderer.render(state.tokens, md.options, env)
    return rendered


def _line_offset(text: str, line: int) -> int:
    """Character offset in ``text`` where (0-based) ``line`` starts."""
    for number, brk in enumerate(LINE_BREAK.finditer(text), 1):
        if number == line:
            return brk.end()
    raise ValueError(f"no line {line}")  # pragma: no cover - the parser saw that line
