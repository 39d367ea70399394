"""Fill in the middle (FIM): DeepSeek's ``/beta/completions`` request from a session.

:func:`fill` sends the code before the hole as ``prompt`` and the code after it as ``suffix``
(:mod:`evo_magic.protocol.fim`, one wire shape whatever protocol the chat uses) to
``%config DeepSeekMagics.fim_path``, through the session's transport, and returns a
:class:`Filled`. The request is a ledger row of the session (priced, held to the budget, its
origin the cell or the API it came from), but it is not a turn: the conversation does not
change, and the next question does not carry it.

FIM never thinks and takes no tools. Its options are the call's own on top of the session's
model and sampling settings (model, temperature, top_p, the penalties); thinking, reasoning
effort, tools, JSON mode and the chat's ``max_tokens`` are not inherited. ``max_tokens`` is
:data:`DEFAULT_MAX_TOKENS` unless given, at most 4,096.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..core.options import RequestOptions
from ..core.usage import Usage
from ..errors import OptionError, scrub
from ..protocol import fim
from .reply import Reply

if TYPE_CHECKING:
    from ..display.render import Footer
    from .request import ViewFactory
    from .session import Session

__all__ = ["DEFAULT_MAX_TOKENS", "Filled", "fill", "fill_options"]

DEFAULT_MAX_TOKENS = 1_024
_INHERITED = ("model", "extra_models", "temperature", "top_p", "frequency_penalty", "presence_penalty", "stream")


@dataclass
class Filled:
    """A FIM answer: ``text`` is what the model filled in, ``code`` the completed code
    (``prompt + text + suffix``); ``reply`` is the request's :class:`~evo_magic.sessions.reply.Reply`
    (usage, cost, status). Displays as the completed code with the filled part marked."""

    prompt: str
    suffix: str
    reply: Reply = field(repr=False)
    language: str = "python"

    @property
    def text(self) -> str:
        return self.reply.text

    @property
    def code(self) -> str:
        return self.prompt + self.text + self.suffix

    @property
    def status(self) -> str:
        return self.reply.status

    @property
    def ok(self) -> bool:
        return self.reply.ok

    @property
    def usage(self) -> Usage | None:
        return self.reply.usage

    @property
    def cost(self) -> Decimal | None:
        return self.reply.cost

    @property
    def model(self) -> str:
        return self.reply.model

    @property
    def footer(self) -> Footer:
        from ..display.fill import fill_footer

        return fill_footer(self.reply.footer)

    def __str__(self) -> str:
        return self.code

    def __repr__(self) -> str:
        from ..display.fill import fill_text

        return fill_text(self.prompt, self.text, self.suffix, self.reply.footer)

    def _repr_html_(self) -> str:
        from ..display.fill import fill_html

        return fill_html(self.prompt, self.text, self.suffix, self.reply.footer, self.language)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))


def fill_options(session: Session, options: dict[str, Any]) -> RequestOptions:
    """The options of a FIM request: the session's model and sampling settings, then the
    call's ``options`` (None: not given); checked (:func:`evo_magic.protocol.fim.check`)."""
    given = {k: v for k, v in options.items() if v is not None}
    if given.get("protocol", "openai") != "openai":
        raise OptionError(
            "FIM completion is not offered on the Anthropic protocol (DeepSeek serves it as /beta/completions "
            "only): drop --protocol anthropic"
        )
    given.pop("protocol", None)
    base = session.options()
    opts = RequestOptions(**{name: getattr(base, name) for name in _INHERITED}, max_tokens=DEFAULT_MAX_TOKENS)
    try:
        opts = opts.replace(**given)
    except TypeError as exc:
        raise OptionError(str(exc)) from None
    fim.check(opts)
    return opts.validate()


def fill(
    session: Session, prompt: str, suffix: str = "", *, view_factory: ViewFactory | None = None,
    cell: Any = None, language: str = "python", **options: Any,
) -> Filled:  # fmt: skip
    """Fill the hole between ``prompt`` and ``suffix`` (see the module doc). Raises
    OptionError before any request for what FIM does not offer, the request's error (with
    the partial reply) when it fails, and Interrupted on Ctrl-C."""
    if not isinstance(prompt, str) or not isinstance(suffix, str):
        raise OptionError("FIM fills code between two texts: give the code before and after the hole as str")
    if not prompt.strip() and not suffix.strip():
        raise OptionError("there is no code around the hole: give the code before it (and after it)")
    opts = fill_options(session, options)
    prompt, suffix = scrub(prompt), scrub(suffix)  # no key in what is sent and kept
    body = fim.build_body(prompt, suffix or None, opts)
    route = session.host.defaults.routes.fim()
    views: ViewFactory = view_factory if view_factory is not None else (lambda opts: None)
    with session.exchange(opts, fim, route=route) as exchange:
        reply = exchange.run(body, cell=cell, views=views, notes=[])
    return Filled(prompt, suffix, reply, language)
