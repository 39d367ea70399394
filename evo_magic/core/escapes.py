"""Escapes in option values such as ``--prefix`` and ``--stop`` (pure).

The rule, read left to right: a backslash followed by ``n`` is a newline, by ``t`` a tab, and
by another backslash one backslash; a backslash followed by anything else (or by nothing, at
the end) stays as typed, and so does the character after it. So ``"```python\\n"`` ends in a
newline, ``C:\\path`` keeps its backslash, and ``\\\\n`` is a backslash then ``n`` (write the
backslash twice to keep ``\\n`` literal). :func:`escape` is the inverse: ``unescape(escape(s))
== s`` for every string.
"""

from __future__ import annotations

import re

__all__ = ["escape", "unescape"]

_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\"}
_ESCAPE = re.compile(r"\\([nt\\])")
_SPECIAL = re.compile(r"[\\\n\t]")
_WRITTEN = {"\\": "\\\\", "\n": "\\n", "\t": "\\t"}


def unescape(value: str) -> str:
    """``value`` with ``\\n``, ``\\t`` and ``\\\\`` replaced; every other backslash kept."""
    if "\\" not in value:
        return value
    return _ESCAPE.sub(lambda m: _ESCAPES[m.group(1)], value)


def escape(value: str) -> str:
    """The typed form of ``value``: backslash, newline and tab written as escapes."""
    return _SPECIAL.sub(lambda m: _WRITTEN[m.group()], value)
