"""Markdown to safe HTML, whole (:func:`render_markdown`) and incrementally (:class:`MarkdownStream`).

Pure module: strings in, strings out. Model output is untrusted, so the renderer is
markdown-it-py's CommonMark with raw HTML **off** (``<script>`` and ``<img onerror=...>`` come
out as escaped text), plus tables and strikethrough. Links and image sources keep only
http, https, mailto, relative URLs and ``#anchors``; links open in a new tab with
``rel="noopener noreferrer nofollow"``. Images are shown as links, never loaded: an image URL
written by the model is a known way to leak data from the conversation (the browser would
fetch ``https://attacker/?q=<secret>`` on its own).

:class:`MarkdownStream` turns a growing document into small deltas for the live view: HTML of
finished top-level blocks is sent once, and the unfinished last block is sent as
``keep`` (UTF-16 code units of the previous tail HTML that stay) + ``append`` (the new rest).
markdown-it-py is imported on first use, so importing this module costs nothing.

:func:`close_markdown` closes the inline markup an answer cut short (Stop, Ctrl-C, an error)
left open, so its final render shows ``**In`` as bold "In", not as two asterisks.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    from collections.abc import Sequence

    from markdown_it import MarkdownIt
    from markdown_it.renderer import RendererHTML
    from markdown_it.token import Token
    from markdown_it.utils import OptionsDict

__all__ = [
    "Delta",
    "MarkdownStream",
    "close_markdown",
    "common_prefix",
    "is_safe_link",
    "render_markdown",
    "utf16_len",
]

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f]+")
_LINE_BREAK = re.compile(r"\r\n?|\n")  # the line breaks markdown-it's normalize step knows
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_BLOCK_START = re.compile(r" {0,3}(?:[-+*]\s|\d{1,9}[.)]\s|#{1,6}\s|>|\|)")  # list item, heading, quote, table row
_MARKS = "*_~"
_DANGLING = re.compile(r"(?<!\S)[*_~`]+\Z")


def is_safe_link(url: str) -> bool:
    """True for http(s) and mailto URLs, relative URLs and ``#anchors``; False for any other scheme.

    Entities and percent-escapes are decoded and whitespace / control characters removed
    before the scheme is read, so ``JaVaScRiPt:``, ``java%0Ascript:`` and ``&#106;avascript:``
    are all refused.
    """
    squeezed = _INVISIBLE.sub("", unquote(html.unescape(url))).lower()
    scheme = _SCHEME.match(squeezed)
    return scheme is None or scheme.group(1) in SAFE_SCHEMES


def _link_open(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any) -> str:
    token = tokens[idx]
    token.attrSet("rel", LINK_REL)
    token.attrSet("target", "_blank")
    return self.renderToken(tokens, idx, options, env)


def _image(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any) -> str:
    token = tokens[idx]
    alt = html.escape(self.renderInlineAsText(token.children or [], options, env)) or "image"
    src = str(token.attrGet("src") or "")
    if not src:
        return f"[{alt}]"
    return f'<a class="evo-image-link" href="{html.escape(src)}" rel="{LINK_REL}" target="_blank">[image: {alt}]</a>'


@cache
def _md() -> MarkdownIt:
    """The one configured parser (built on first use; markdown-it-py is imported here)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table").enable("strikethrough")
    md.validateLink = is_safe_link  # type: ignore[method-assign]
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("image", _image)
    return md


def render_markdown(text: str, references: dict[str, Any] | None = None) -> str:
    """Safe HTML for markdown ``text``.

    ``references`` (link reference definitions, markdown-it's ``env["references"]``) are
    known before parsing and receive the definitions ``text`` adds; :class:`MarkdownStream`
    uses it to carry definitions from one committed part to the next.
    """
    env: dict[str, Any] = {"references": references if references is not None else {}}
    return _md().render(text, env)


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of JavaScript string indexes."""
    return len(text.encode("utf-16-le")) // 2


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

    def to_message(self) -> dict[str, Any]:
        """The compact JSON form sent to the browser: ``{"m", "c", "k", "a"}``, defaults left out."""
        msg: dict[str, Any] = {"k": self.keep, "a": self.append}
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

    Harmless difference from rendering the whole document at once: a reference-style link
    whose definition arrives after the block using it was committed stays unresolved (the
    final static render resolves it).
    """

    def __init__(self) -> None:
        self._seen = 0  # characters of source taken so far
        self._committed = 0  # characters of source committed
        self._checked = 0  # source offset of complete lines already checked for commits
        self._references: dict[str, Any] = {}  # definitions in committed text
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
        cut = self._commit_point(source)
        if cut > self._committed:
            block = render_markdown(source[self._committed : cut], self._references)
            self._committed = cut
            if old_tail.startswith(block):
                moved, old_tail = utf16_len(block), old_tail[len(block) :]
            else:
                committed = (block,)
        new_tail = render_markdown(source[self._committed :], dict(self._references))
        same = common_prefix(old_tail, new_tail)
        self._tail_html = new_tail
        self._tail_units = utf16_len(new_tail)
        keep = same if new_tail.isascii() else utf16_len(new_tail[:same])
        return Delta(moved, committed, keep, new_tail[same:])

    def _commit_point(self, source: str) -> int:
        """Source offset of the start of the last top-level block in the complete lines of the
        tail (a line that is still being written could change how the lines before it parse)."""
        complete = source.rfind("\n", self._committed) + 1
        if complete <= self._checked:
            return self._committed
        self._checked = complete
        text = source[self._committed : complete]
        tokens: list[Token] = []
        md = _md()
        md.block.parse(_LINE_BREAK.sub("\n", text).replace("\0", "\ufffd"), md, {"references": {}}, tokens)
        starts = [t.map[0] for t in tokens if t.level == 0 and t.nesting >= 0 and t.map]
        if len(starts) < 2:
            return self._committed
        return self._committed + _line_offset(text, starts[-1])


def _line_offset(text: str, line: int) -> int:
    """Character offset in ``text`` where (0-based) ``line`` starts."""
    for number, brk in enumerate(_LINE_BREAK.finditer(text), 1):
        if number == line:
            return brk.end()
    raise ValueError(f"no line {line}")  # pragma: no cover - the parser saw that line


def close_markdown(text: str) -> str:
    """``text`` (an answer cut short) with the inline markup its last block left open closed:
    ``**In`` → ``**In**``, an unfinished code span closed, a marker with nothing after it
    dropped, a half-written closing fence line dropped. Only markers are added or removed, and
    only at the end; text with nothing open comes back unchanged."""
    lines = _LINE_BREAK.split(text)
    fence, fence_line = None, 0
    for number, line in enumerate(lines):
        found = _FENCE.fullmatch(line)
        if fence is None:
            if found and not (found.group(1)[0] == "`" and "`" in found.group(2)):
                fence, fence_line = found.group(1), number
        elif found and found.group(1).startswith(fence) and not found.group(2).strip():
            fence = None  # a closing fence: the same character, at least as long, nothing after
    if fence is not None:  # an open fence shows as code to the end; drop a half-written closing one
        last = lines[-1].strip(" ")
        if len(lines) - 1 > fence_line and last and set(last) == {fence[0]}:
            return text[: len(text) - len(lines[-1])].rstrip("\r\n")
        return text
    start = offset = 0  # where the last block begins: inline markup never spans blocks
    for line in text.split("\n"):
        if offset and (not line.strip() or _BLOCK_START.match(line)):
            start = offset
        offset += len(line) + 1
    trimmed = text.rstrip()
    dangling = _DANGLING.search(trimmed, start)  # markers with nothing after them yet: dropped
    if dangling is not None:
        trimmed = trimmed[: dangling.start()].rstrip()
    open_ = _open_marks(trimmed, start)
    while open_ and not trimmed[open_[-1][1] + len(open_[-1][0]) :].strip():
        trimmed = trimmed[: open_.pop()[1]].rstrip()
    if not open_:
        return text if trimmed == text.rstrip() else trimmed
    return trimmed + "".join(mark for mark, _ in reversed(open_))


def _flanking(text: str, i: int, j: int) -> tuple[bool, bool]:
    """CommonMark's left- and right-flanking tests for the delimiter run ``text[i:j]``."""
    before = text[i - 1] if i > 0 else " "
    after = text[j] if j < len(text) else " "
    left = not after.isspace() and (not _punctuation(after) or before.isspace() or _punctuation(before))
    right = not before.isspace() and (not _punctuation(before) or after.isspace() or _punctuation(after))
    return left, right


def _punctuation(char: str) -> bool:
    return not char.isalnum() and not char.isspace()


def _open_marks(text: str, start: int) -> list[tuple[str, int]]:
    """The inline markers (and their offsets) still open at the end of ``text[start:]``."""
    stack: list[tuple[str, int]] = []
    i, n = start, len(text)
    while i < n:
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char not in _MARKS and char != "`":
            i += 1
            continue
        j = i
        while j < n and text[j] == char:
            j += 1
        run = text[i:j]
        if char == "`":
            closer = re.compile(rf"(?<!`){run}(?!`)").search(text, j)
            if closer is None:  # an open code span: nothing after it is markup
                stack.append((run, i))
                return stack
            i = closer.end()
            continue
        left, right = _flanking(text, i, j)
        before = text[i - 1] if i > start else " "
        if char == "~" and len(run) != 2 and j < n:  # (at the end: half of a closing "~~")
            i = j
            continue
        if right and any(mark[0] == char for mark, _ in stack):
            length = len(run)
            while length and stack and any(mark[0] == char for mark, _ in stack):
                while stack[-1][0][0] != char:
                    stack.pop()  # an inner marker this closer skips stays literal
                mark, at = stack.pop()
                if len(mark) > length:
                    stack.append((mark[: len(mark) - length], at))
                    length = 0
                else:
                    length -= len(mark)
        elif left and not before.isalnum():
            stack.append((run, i))
        i = j
    return stack
