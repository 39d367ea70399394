"""The API key never shows: not in an error quoting server bytes, not in a traceback's locals,
not in the prompt history, the ledger or a panel; a key or URL that cannot be used is a one-line
ConfigError that does not repeat it."""

from __future__ import annotations

from evo_magic import errors
from evo_magic.config import Secret

from .keys import ODD_KEY, frames_and_locals


def test_errors_quoting_server_bytes_never_show_a_remembered_key() -> None:
    Secret(ODD_KEY)  # read as the API key
    for err in (
        errors.ProtocolError(f"malformed event from the server: '{{bad {ODD_KEY}'"),
        errors.ApiError(f"quota exceeded for key {ODD_KEY}"),
        errors.TransportError(f"request failed: Bearer {ODD_KEY}"),
    ):
        shown = [str(err), repr(err), err.one_line(), *err._render_traceback_(), frames_and_locals(err)]
        assert all(ODD_KEY not in s for s in shown), shown
        assert "****5b4a" in str(err)
    assert errors.redact(f"x {ODD_KEY} y") == "x ****5b4a y"
    assert errors.scrub("key=" + ODD_KEY + " \ud800!") == "key=****5b4a \ufffd!"
    assert errors.scrub("plain text, sk-learn and all") == "plain text, sk-learn and all"  # only real secrets


