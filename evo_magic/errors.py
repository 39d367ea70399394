"""The one error hierarchy of evo_magic.

::

    EvoMagicError
    ├── ConfigError            no API key, bad base URL, bad setting
    ├── OptionError            a request option out of range (before any network call)
    ├── ApiError               the API answered with an error body (status, type, code, message)
    │   ├── BadRequestError        400 (invalid format, unknown model, echo rule, ...)
    │   │   └── ContextLengthError     400 "maximum context length is N tokens"
    │   ├── AuthenticationError    401
    │   ├── InsufficientBalanceError 402
    │   ├── InvalidParametersError 422
    │   ├── RateLimitError         429 (``retry_after`` seconds when the server said)
    │   └── ServerError            5xx
    ├── TransportError         no answer: refused connection, reset, timeout
    │   └── StreamTimeout          the stream stalled longer than the read timeout
    └── ProtocolError          a malformed event or body from the server

Pure module: no IPython, ipywidgets or httpx imports. Every message is one line that a user
can act on, and no error ever carries the API key (see :func:`redact`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

if TYPE_CHECKING:
    from typing_extensions import Unpack

_KEY_SHAPES = re.compile(r"(Bearer\s+)[A-Za-z0-9._\-]{8,}|\bsk-[A-Za-z0-9._\-]{8,}")
_SECRETS: set[str] = set()  # every key this process has read (see remember_secret)
_SURROGATES = re.compile("[\ud800-\udfff]")


def remember_secret(value: str) -> None:
    """Mask ``value`` wherever :func:`redact` or :func:`scrub` runs from now on (the API key,
    whatever its shape, is registered when it is read)."""
    if len(value) >= 8:  # a shorter string is no real key, and masking it would garble text
        _SECRETS.add(value)


def remembered_secrets() -> tuple[str, ...]:
    """The secrets :func:`remember_secret` has been given so far."""
    return tuple(_SECRETS)


def mask_secrets(text: str, secrets: Iterable[str | None]) -> str:
    """Each secret (of 4 characters or more) in ``text`` shown as ``****`` and its last four."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "****" + secret[-4:])
    return text


def scrub(text: str) -> str:
    """User text as it may be sent and kept: every remembered secret masked (a traceback in
    ``%deepseek fix`` or an interpolated value may hold the key), lone surrogates (which UTF-8
    cannot encode) replaced by U+FFFD. Nothing else changes."""
    return _SURROGATES.sub("\ufffd", mask_secrets(text, _SECRETS))


def redact(text: str, *secrets: str | None) -> str:
    """Remove every given or remembered secret and anything shaped like an API key from ``text``
    (and lone surrogates a server may quote, which no front end can show)."""
    masked = _KEY_SHAPES.sub(lambda m: (m.group(1) or "") + "****", mask_secrets(text, (*secrets, *_SECRETS)))
    return _SURROGATES.sub("\ufffd", masked)


#: Characters a terminal or an ANSI-aware text/plain renderer would act on: C0 and C1 controls
#: (ESC, CR, BEL, CSI, ...) other than newline and tab.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    """``text`` with each :data:`CONTROL` character written as ``\\x1b``: shown, not obeyed."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def shown(text: str) -> str:
    """:func:`redact`, and the control characters escaped (a server's message is untrusted)."""
    return escape_controls(redact(text))


class EvoMagicError(Exception):
    """Base class: every error evo_magic raises on purpose. Its text never shows a remembered
    secret or anything shaped like a key, whatever server bytes it quotes."""

    hint: str = ""
    #: The partial answer of a request that failed (a :class:`~evo_magic.sessions.reply.Reply`),
    #: set by the session when it settles the request; None for errors before any request.
    reply: Any = None

    def __init__(self, *args: object):
        super().__init__(*(shown(a) if isinstance(a, str) else a for a in args))

    def __str__(self) -> str:
        return shown(super().__str__())

    def one_line(self) -> str:
        """The message a user sees: one line, hint appended."""
        msg = " ".join(str(self).split())
        return f"{msg} {self.hint}".strip() if self.hint else msg

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback: one line."""
        return [f"{type(self).__name__}: {self.one_line()}"]


E = TypeVar("E", bound=EvoMagicError)


class ConfigError(EvoMagicError):
    """Missing or invalid configuration (API key, base URL, settings)."""


class OptionError(EvoMagicError, ValueError):
    """A request option is invalid; raised before any network call."""


class TransportError(EvoMagicError):
    """The request got no (complete) answer: refused connection, reset or timeout."""

    def __init__(self, message: str, *, url: str | None = None, retryable: bool = True):
        super().__init__(message)
        self.url = url
        self.retryable = retryable


class StreamTimeout(TransportError):
    """The stream produced nothing for longer than the read timeout."""

    hint = (
        "The server stalled; raise the timeout with %config DeepSeekMagics.read_timeout = SECONDS."
    )


class ProtocolError(EvoMagicError):
    """The server sent something that is not valid for the protocol."""


class ApiError(EvoMagicError):
    """The API answered with an error status and (usually) a vendor error body."""

    status: int = 0

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        if status is not None:
            self.status = status
        self.message: str = self.args[0]  # redacted
        self.type = type
        self.code = code
        self.param = param
        self.request_id = request_id
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return False

    def __str__(self) -> str:
        return shown(f"HTTP {self.status}: {self.message}" if self.status else self.message)


class ApiErrorFields(TypedDict, total=False):
    """The keyword arguments of :class:`ApiError` (a subclass passes them on)."""

    status: int | None
    type: str | None
    code: str | None
    param: str | None
    request_id: str | None
    retry_after: float | None


class BadRequestError(ApiError):
    status = 400


class ContextLengthError(BadRequestError):
    """The prompt is longer than the model's context window."""

    def __init__(self, message: str, **kw: Unpack[ApiErrorFields]):
        super().__init__(message, **kw)
        nums = [int(n) for n in re.findall(r"(\d+) tokens", message)]
        self.max_tokens: int | None = nums[0] if nums else None
        self.requested_tokens: int | None = nums[1] if len(nums) > 1 else None

    @property
    def hint(self) -> str:  # type: ignore[override]
        if self.max_tokens and self.requested_tokens:
            over = self.requested_tokens - self.max_tokens
            return (
                f"The conversation is {self.requested_tokens:,} tokens, {over:,} over the "
                f"{self.max_tokens:,}-token limit: start a new session (--new) or shorten the prompt."
            )
        return "Start a new session (--new) or shorten the prompt."


class AuthenticationError(ApiError):
    status = 401
    hint = "Check EVOLINK_API_KEY (environment or .env file), or run %deepseek offline."


class InsufficientBalanceError(ApiError):
    status = 402
    hint = "Your EvoLink balance or key quota is used up: top up or raise the key's quota."


class InvalidParametersError(ApiError):
    status = 422


class RateLimitError(ApiError):
    status = 429

    @property
    def retryable(self) -> bool:
        return True


class ServerError(ApiError):
    status = 500

    @property
    def retryable(self) -> bool:
        return True


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientBalanceError,
    422: InvalidParametersError,
    429: RateLimitError,
}


def parse_retry_after(value: str | None, date: str | None = None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (RFC 9110 §10.2.3): delta-seconds, or an
    HTTP-date taken relative to the response's ``date`` header (the server's clock, so a skewed
    client clock does not matter), else to ``now``, else to the current time. A moment in the
    past is 0; None when the header is absent or unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    when = _http_date(value)
    if when is None:
        return None
    reference = _http_date(date) if date else None
    reference = reference or now or datetime.now(timezone.utc)
    return max(0.0, (when - reference).total_seconds())


def _http_date(value: str) -> datetime | None:
    from email.utils import parsedate_to_datetime  # here: %load_ext stays fast

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)  # "-0000": UTC


def annotate(error: E, note: str) -> E:
    """``error`` (in place) with ``note`` appended to its message: which URLs answered what, how
    long the server asks to wait."""
    text = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
    error.args = (shown(text + note), *error.args[1:])
    if isinstance(error, ApiError):
        error.message = error.args[0]
    return error


def error_from_body(
    status: int,
    body: bytes | str | Mapping[str, Any] | None,
    headers: Mapping[str, str] | None = None,
    secret: str | None = None,
    now: datetime | None = None,
) -> ApiError:
    """Map an error status and body (either vendor shape, any content type) to a typed error.

    Accepts ``{"error": {...}}`` (OpenAI / DeepSeek) and ``{"type": "error", "error": {...}}``
    (Anthropic); a body that is not JSON becomes the message itself. ``secret`` (the API key)
    and anything shaped like a key are masked out of the message. ``now`` is the moment the
    response came (for a Retry-After date when the response has no Date header).
    """
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    err = _error_fields(text)
    message = err.get("message")
    if not isinstance(message, str) or not message.strip():
        shown = text.strip() if isinstance(text, str) else ""
        message = shown[:300] if shown else f"the server answered HTTP {status} with no message"
    message = redact(message, secret)
    request_id = headers.get("x-request-id") or headers.get("x-oneapi-request-id") or headers.get("x-ds-trace-id")
    return _error_class(status, message)(
        message,
        status=status,
        type=_str_or_none(err.get("type"), secret),
        code=_str_or_none(err.get("code"), secret),
        param=_str_or_none(err.get("param"), secret),
        request_id=_str_or_none(request_id, secret),
        retry_after=parse_retry_after(headers.get("retry-after"), headers.get("date"), now),
    )


def _error_fields(body: str | Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The vendor error object of a body: ``error`` of either shape, a bare ``{"message"}``, or
    ``{}`` (not JSON, or no error in it)."""
    data: object = body
    if isinstance(body, str):
        try:
            data = json.loads(body.strip() or "null")
        except ValueError:
            return {}
    if not isinstance(data, Mapping):
        return {}
    inner = data.get("error")
    if isinstance(inner, Mapping):
        return inner
    if isinstance(inner, str):
        return {"message": inner}
    return data if "message" in data else {}


def _error_class(status: int, message: str) -> type[ApiError]:
    if status == 400 and "maximum context length" in message:
        return ContextLengthError
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, ApiError)


def _str_or_none(value: object, secret: str | None = None) -> str | None:
    """A field of a server's error as text, the key masked (a proxy may echo it anywhere)."""
    return None if value is None else escape_controls(redact(str(value), secret))
