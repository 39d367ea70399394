"""Where the beta features are served, as settings, and what a wrong route looks like (pure).

DeepSeek serves chat prefix completion at ``/beta/chat/completions`` and FIM completion at
``/beta/completions`` (its ``/beta`` base); EvoLink lists both capabilities but documents no
route. So the paths are settings (``%config DeepSeekMagics.prefix_path`` and ``fim_path``),
relative to the configured base URLs, and a request to one goes through the same transport
(retries, fallback) as any other. On the Anthropic protocol a prefix is a final assistant
turn on ``/v1/messages`` (the codec's own path): there is nothing to configure.

A route the gateway does not serve answers 404 (every base URL dropped), or 400 with a
message that names the field it did not expect (``prefix``, ``suffix``) or DeepSeek's hint
that the feature lives on the beta base. :func:`explain` appends to such an error the one
setting to change, e.g. ``%config DeepSeekMagics.prefix_path = '/v1/chat/completions'``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ApiError, EvoMagicError, OptionError, annotate

__all__ = ["FIM_PATH", "PREFIX_PATH", "Route", "Routes", "check_path", "explain"]

PREFIX_PATH = "/beta/chat/completions"
FIM_PATH = "/beta/completions"


@dataclass(frozen=True)
class Routes:
    """The paths of the beta features (the kernel defaults' part ``routes``)."""

    prefix_path: str = PREFIX_PATH
    fim_path: str = FIM_PATH

    def prefix(self, protocol: str) -> Route | None:
        """Where a prefix goes on ``protocol``: ``prefix_path`` (OpenAI); None on the Anthropic
        protocol, whose final assistant turn goes to the codec's own path."""
        if protocol != "openai":
            return None
        return Route(self.prefix_path, "prefix_path", "prefix continuation", ("prefix", "beta"),
                     (PREFIX_PATH, "/v1/chat/completions"))  # fmt: skip

    def fim(self) -> Route:
        return Route(self.fim_path, "fim_path", "FIM completion", ("suffix", "beta"), (FIM_PATH, "/v1/completions"))


@dataclass(frozen=True)
class Route:
    """One feature's path: the setting that holds it, the words of a 400 that mean the gateway
    does not take the feature there, and the paths to suggest instead."""

    path: str
    setting: str
    feature: str
    fields: tuple[str, ...]
    candidates: tuple[str, ...]

    def suggestion(self) -> str:
        """The ``%config`` line to try: the first candidate path that is not this one."""
        other = next((c for c in self.candidates if c != self.path), self.candidates[0])
        return f"%config DeepSeekMagics.{self.setting} = {other!r}"

    def refused(self, error: EvoMagicError) -> bool:
        """Whether ``error`` says the gateway does not serve the feature at this path."""
        if not isinstance(error, ApiError):
            return False
        message = error.message.lower()
        return error.status == 404 or (error.status == 400 and any(word in message for word in self.fields))


def explain(error: EvoMagicError, route: Route) -> None:
    """Append to ``error`` (in place) the setting to change, when it says ``route`` is wrong."""
    if route.refused(error):
        annotate(error, f" — the gateway does not serve {route.feature} at {route.path}; "
                        f"if it does elsewhere, set {route.suggestion()}")  # fmt: skip


def check_path(name: str, value: object) -> None:
    """A route setting is a path relative to the base URLs: ``/`` then no space, query or host."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        raise OptionError(f"{name} is a path relative to the base URLs, like {PREFIX_PATH!r}, not {value!r}")
    if any(ch.isspace() or ch in "?#" for ch in value) or "://" in value:
        raise OptionError(f"{name} is a path without spaces, query or fragment, not {value!r}")
