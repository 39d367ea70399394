"""Where requests go and with which key: environment, ``.env`` file; how the transport waits.

The API key is read from ``EVOLINK_API_KEY`` (environment first, then a ``.env`` file in the
working directory). It is held in a :class:`Secret`, whose repr and str never show more than
the last four characters, so it cannot leak into an output, a log or an error.
"""

from __future__ import annotations

import io
import os
import re
import stat
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .errors import ConfigError, redact, remember_secret

DEFAULT_BASE_URLS: tuple[str, ...] = ("https://direct.evolink.ai", "https://api.evolink.ai")
KEY_VAR = "EVOLINK_API_KEY"
BASE_URL_VAR = "EVOLINK_BASE_URL"
NO_KEY_MESSAGE = (
    "No EvoLink API key: set EVOLINK_API_KEY in the environment or in a .env file in the "
    "working directory, or run `%deepseek offline` to use the bundled emulator."
)


class Secret:
    """A string that shows only its last four characters."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value
        remember_secret(value)  # masked in every error message and in user text from now on

    def reveal(self) -> str:
        return self._value

    @property
    def masked(self) -> str:
        return "…" + self._value[-4:] if len(self._value) >= 8 else "****"

    def __repr__(self) -> str:
        return f"Secret({self.masked!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:  # never pickle the key
        raise TypeError("Secret cannot be pickled")


MAX_DOTENV_BYTES = 256 * 1024  # a .env holds a few lines; anything larger is not one


@dataclass(frozen=True)
class DotEnv:
    """The variables of one ``.env`` file, and one line per thing wrong with it (``notes``)."""

    path: str
    values: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def read_dotenv(path: Path) -> DotEnv:
    """Read ``path`` without ever blocking: a FIFO, a device or a folder named ``.env`` and a
    file over :data:`MAX_DOTENV_BYTES` are ignored with a note; a missing file is no file."""
    where = str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)  # O_NONBLOCK: opening a FIFO with no writer returns at once
    except (FileNotFoundError, NotADirectoryError):
        return DotEnv(where)
    except OSError as exc:
        return DotEnv(where, notes=(f"{where} ignored: it cannot be read ({exc.strerror or exc})",))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return DotEnv(where, notes=(f"{where} ignored: it is not a regular file",))
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_DOTENV_BYTES and (chunk := os.read(fd, MAX_DOTENV_BYTES + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        return DotEnv(where, notes=(f"{where} ignored: it cannot be read ({exc.strerror or exc})",))
    finally:
        os.close(fd)
    if size > MAX_DOTENV_BYTES:
        return DotEnv(
            where, notes=(f"{where} ignored: it is over {MAX_DOTENV_BYTES // 1024} KiB, too large for a .env file",)
        )
    return parse_dotenv(b"".join(chunks), where)


def parse_dotenv(data: bytes, where: str) -> DotEnv:
    """``KEY=value`` lines as python-dotenv reads them (a UTF-8 byte-order mark, ``export``,
    single or double quotes, ``# comments``, values over several quoted lines), with no
    ``${VAR}`` expansion: a file must not splice the environment's key into a URL."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return DotEnv(where, notes=(f"{where} ignored: it is not UTF-8 text",))
    from dotenv.parser import parse_stream

    values: dict[str, str] = {}
    skipped: list[str] = []
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            skipped.append(str(binding.original.line))
        elif binding.key is not None and binding.value is not None:
            values[binding.key] = binding.value
    notes: tuple[str, ...] = ()
    if skipped:  # line numbers only: a line may hold a secret
        lines = ", ".join(f"line {number}" for number in skipped)
        notes = (f"{where}: {lines} skipped, not KEY=value",)
    return DotEnv(where, values, notes)


# A path segment or query value that may be a key or token: long, mixing letters and digits.
_TOKEN_LIKE = re.compile(r"(?=[^/]*[0-9])(?=[^/]*[A-Za-z])[A-Za-z0-9._~+=%\-]{16,}")
_MASK = "****"


def _secret_part(text: str) -> bool:
    return bool(_TOKEN_LIKE.fullmatch(text)) or redact(text) != text


def shown_url(url: str) -> str:
    """``url`` as evo_magic shows it (``%deepseek config``, reprs, errors): scheme, host and
    port, and the path with every segment that may be a key (key-shaped, a remembered secret,
    a long letters-and-digits token) as ``****``; query values are always masked, and
    credentials and fragments dropped."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "(not an http:// or https:// URL; not shown, as it may hold a key)"
    host = parts.netloc.rpartition("@")[2]
    if redact(host) != host:  # a host is shown unless it holds a remembered secret
        host = _MASK
    path = "/".join(_MASK if _secret_part(seg) else seg for seg in parts.path.split("/"))
    pairs = (pair.partition("=") for pair in parts.query.split("&") if pair)
    query = "&".join(f"{name}={_MASK}" if eq else _MASK for name, eq, _value in pairs)
    return f"{parts.scheme}://{host}{path}{'?' + query if query else ''}"


def parse_base_urls(value: str) -> tuple[str, ...]:
    """The ordered base URLs of ``EVOLINK_BASE_URL``. Errors never repeat an entry: it may be
    a key pasted into the wrong variable."""
    urls = tuple(u.strip().rstrip("/") for u in value.split(",") if u.strip())
    for n, url in enumerate(urls, 1):
        entry = f"entry {n} of {BASE_URL_VAR}" if len(urls) > 1 else BASE_URL_VAR
        if not url.startswith(("http://", "https://")):
            scheme = url.partition("://")[0] if "://" in url else ""
            got = f"it starts with {scheme}://" if scheme.isalpha() and len(scheme) <= 8 else "it is not shown"
            raise ConfigError(
                f"{entry} must be an http:// or https:// URL ({got}; a key goes in {KEY_VAR})"
            )
        if "@" in url.split("//", 1)[-1].split("/", 1)[0]:  # user:password@host
            raise ConfigError(
                f"{BASE_URL_VAR} must not carry credentials (user:password@): the key goes in {KEY_VAR}"
            )
    if not urls:
        raise ConfigError(f"{BASE_URL_VAR} is set but names no URL")
    return tuple(u[:-3] if u.endswith("/v1") else u for u in urls)


@dataclass(frozen=True)
class TransportSettings:
    """How the transport waits and retries (``%config DeepSeekMagics.connect_timeout`` …):
    seconds to connect, seconds without data before a stream times out, retries before the
    first body byte."""

    connect_timeout: float = 10.0
    read_timeout: float = 180.0
    max_retries: int = 3


@dataclass(frozen=True)
class Endpoint:
    """Where to send requests: ordered base URLs (fallback list) and the key."""

    base_urls: tuple[str, ...]
    key: Secret | None
    offline: bool = False
    # where each came from ("the environment", a .env path, "default") and what to tell the user
    key_source: str = field(default="", compare=False)
    url_source: str = field(default="", compare=False)
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        # a part of a URL that may be a key or token is a secret: masked in every error text
        for url in self.base_urls:
            parts = urlsplit(url)
            for part in (*parts.path.split("/"), *(q.partition("=")[2] for q in parts.query.split("&"))):
                if _secret_part(part):
                    remember_secret(part)

    def __repr__(self) -> str:
        urls = ", ".join(shown_url(u) for u in self.base_urls)
        return f"Endpoint(base_urls=[{urls}], key={self.key!r}, offline={self.offline})"

    def require_key(self) -> Secret:
        if self.key is None:
            raise ConfigError(NO_KEY_MESSAGE)
        check_key(self.key.reveal())
        return self.key


def check_key(value: str) -> None:
    """A key an HTTP header can carry (printable ASCII, no spaces); the error names the first
    bad character (a pasted key often brings a non-breaking hyphen or a smart quote), never the key."""
    for i, ch in enumerate(value):
        if not "!" <= ch <= "~":
            name = unicodedata.name(ch, f"U+{ord(ch):04X}")
            raise ConfigError(
                f"{KEY_VAR} has a character an HTTP header cannot carry at position {i + 1} "
                f"({name}): retype the key, or paste it as plain text"
            )


def resolve(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Endpoint:
    """The endpoint the environment sets, else the ``.env`` file (the kernel's root routes to
    the bundled emulator instead while offline: :meth:`~evo_magic.runtime.Runtime.endpoint`).

    A base URL read from a ``.env`` only ever receives the key of that same file: with the key
    in the environment, a ``.env`` (say, of a cloned repository) setting only
    ``EVOLINK_BASE_URL`` would send it elsewhere, so that is a :class:`ConfigError` naming the file.
    """
    env = os.environ if environ is None else environ
    dotenv = read_dotenv((cwd or Path.cwd()) / ".env")
    key, key_source = _setting(KEY_VAR, env, dotenv)
    base, url_source = _setting(BASE_URL_VAR, env, dotenv)
    if url_source == dotenv.path and key and key != dotenv.values.get(KEY_VAR, "").strip():
        raise ConfigError(
            f"{BASE_URL_VAR} in {dotenv.path} would receive the {KEY_VAR} of the environment: a base URL "
            f"from a .env file only gets the key set in that same file; set both there, or set "
            f"{BASE_URL_VAR} in the environment"
        )
    urls = parse_base_urls(base) if base else DEFAULT_BASE_URLS
    return Endpoint(
        urls,
        Secret(key) if key else None,
        key_source=key_source,
        url_source=url_source or "default",
        notes=dotenv.notes,
    )


def _setting(name: str, env: Mapping[str, str], dotenv: DotEnv) -> tuple[str, str]:
    """``name``'s value (stripped) and where it came from: the environment first, then ``.env``."""
    value = (env.get(name) or "").strip()
    if value:
        return value, "the environment"
    value = (dotenv.values.get(name) or "").strip()
    return (value, dotenv.path) if value else ("", "")
