"""Closing the markdown an answer cut short left open (pure: strings in, strings out).

An answer stopped mid-stream (Stop, Ctrl-C, an error, max_tokens) may end inside ``**bold``, a
code span or a fenced block. :func:`close_markdown` closes what its last block left open, so its
final render shows ``**In`` as bold "In", not as two asterisks; only markers at the end are added
or removed. CommonMark's flanking rules decide which runs of ``*``, ``_`` and ``~`` open.
"""

from __future__ import annotations

import re

__all__ = ["LINE_BREAK", "close_markdown"]

LINE_BREAK = re.compile(r"\r\n?|\n")  # the line breaks markdown-it's normalize step knows
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_BLOCK_START = re.compile(r" {0,3}(?:[-+*]\s|\d{1,9}[.)]\s|#{1,6}\s|>|\|)")  # list item, heading, quote, table row
_MARKS = "*_~"
_DANGLING = re.compile(r"(?<!\S)[*_~`]+\Z")


def close_markdown(text: str) -> str:
    """``text`` (an answer cut short) with the inline markup its last block left open closed:
    ``**In`` → ``**In**``, an unfinished code span closed, a marker with nothing after it
    dropped, a half-written closing fence line dropped. Only markers are added or removed, and
    only at the end; text with nothing open comes back unchanged."""
    lines = LINE_BREAK.split(text)
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
