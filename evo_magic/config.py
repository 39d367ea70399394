"""Where requests go and with which key: environment, ``.env`` file, offline routing.

The API key is read from ``EVOLINK_API_KEY`` (environment first, then a ``.env`` file in the
working directory). It is held in a :class:`Secret`, whose repr and str never show more than
the last four characters, so it cannot leak into an output, a log or an error.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, remember_secret

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


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse a ``.env`` file: ``KEY=value`` lines, optional ``export``, quotes, ``#`` comments."""
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return values
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key.strip()] = value
    return values


def parse_base_urls(value: str) -> tuple[str, ...]:
    urls = tuple(u.strip().rstrip("/") for u in value.split(",") if u.strip())
    for url in urls:
        if "@" in url.split("//", 1)[-1].split("/", 1)[0]:  # user:password@host
            raise ConfigError(
                f"{BASE_URL_VAR} must not carry credentials (user:password@): the key goes in {KEY_VAR}"
            )
        if not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"{BASE_URL_VAR} entries must start with http:// or https://, got {url!r}"
            )
    if not urls:
        raise ConfigError(f"{BASE_URL_VAR} is set but names no URL")
    return tuple(u[:-3] if u.endswith("/v1") else u for u in urls)


@dataclass(frozen=True)
class Endpoint:
    """Where to send requests: ordered base URLs (fallback list) and the key."""

    base_urls: tuple[str, ...]
    key: Secret | None
    offline: bool = False

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


_offline: Endpoint | None = None


def set_offline(endpoint: Endpoint | None) -> None:
    """Route this process to ``endpoint`` (the bundled emulator) or back (None)."""
    global _offline
    _offline = endpoint


def routed_offline() -> bool:
    """Whether requests go to the bundled emulator now (``%deepseek offline``): nobody bills them."""
    return _offline is not None and _offline.offline


def resolve(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Endpoint:
    """The endpoint in force now: offline routing, else environment, else ``.env``."""
    if _offline is not None:
        return _offline
    env = os.environ if environ is None else environ
    dotenv = read_dotenv((cwd or Path.cwd()) / ".env")
    key = env.get(KEY_VAR) or dotenv.get(KEY_VAR) or ""
    base = env.get(BASE_URL_VAR) or dotenv.get(BASE_URL_VAR) or ""
    urls = parse_base_urls(base) if base.strip() else DEFAULT_BASE_URLS
    return Endpoint(urls, Secret(key.strip()) if key.strip() else None)
