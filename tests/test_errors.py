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




def test_a_server_error_message_shows_control_characters_instead_of_obeying_them() -> None:
    """The message a server sends is untrusted text: in a terminal (or Jupyter's ANSI-aware
    traceback) an ESC in it must be shown, not obeyed."""
    err = errors.error_from_body(500, {"error": {"message": "over\x1b[2Jloaded\x07 \x9b31m"}})
    for text in (str(err), err.one_line(), *err._render_traceback_(), err.message):
        assert not any(c in text for c in "\x1b\x07\x9b"), repr(text)
    assert "over\\x1b[2Jloaded\\x07 \\x9b31m" in err.one_line()
    noted = errors.annotate(errors.TransportError("refused"), " (http://h\x1b[8m/)")
    assert "\x1b" not in str(noted) and "\\x1b[8m" in str(noted)


def test_the_key_a_server_echoes_into_an_error_s_fields_and_headers_is_masked() -> None:
    """A proxy that echoes the request's headers into its error (the request id, the type, the
    code, the param) gets no field of the typed error to hold the key."""
    Secret(ODD_KEY)
    body = {"error": {"message": "denied", "type": f"t {ODD_KEY}", "code": ODD_KEY, "param": f"Bearer {ODD_KEY}"}}
    err = errors.error_from_body(401, body, {"X-Request-Id": f"req-{ODD_KEY}"})
    assert ODD_KEY not in repr(vars(err)) + frames_and_locals(err) and err.request_id == "req-****5b4a"
