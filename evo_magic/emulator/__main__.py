"""``python -m evo_magic.emulator [--host 127.0.0.1] [--port N] [--tokens-per-second R] [--key KEY]
[--latency S] [--max-concurrency N] [--retry-after S] [--approximate-tokens] [--route PATH=KIND] [--no-route PATH]``

Serves the EvoLink emulator on loopback until interrupted. The first line on stdout is
``evo_magic emulator listening on http://127.0.0.1:PORT`` (a free port unless --port is given).
"""

from __future__ import annotations

import argparse
import sys
import time

from . import Emulator


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evo_magic.emulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    p.add_argument("--tokens-per-second", type=float, default=None, help="pace (default: unthrottled)")
    p.add_argument("--first-token-delay", type=float, default=None, help="seconds queued before the first token")
    p.add_argument("--key", action="append", help="accept only this API key (repeatable)")
    p.add_argument("--latency", type=float, default=0.0, help="seconds before each response's first byte")
    p.add_argument("--max-concurrency", type=int, default=None, help="answer 429 above this many requests in flight")
    p.add_argument("--retry-after", type=float, default=1.0, help="the Retry-After seconds of those 429s (default 1)")
    p.add_argument(
        "--approximate-tokens", action="store_true", help="count usage approximately, not with DeepSeek's tokenizer"
    )
    p.add_argument(
        "--route",
        action="append",
        default=[],
        metavar="PATH=KIND",
        help="serve KIND (chat, beta_chat, messages, fim) at PATH",
    )
    p.add_argument("--no-route", action="append", default=[], metavar="PATH", help="answer 404 at PATH (repeatable)")
    args = p.parse_args(argv)
    keys = set(args.key) if args.key else None
    try:
        emu = Emulator(
            args.host,
            args.port,
            args.tokens_per_second,
            keys,
            args.first_token_delay,
            latency=args.latency,
            max_concurrency=args.max_concurrency,
            retry_after=args.retry_after,
            exact_tokens=False if args.approximate_tokens else None,
        )
        for path in args.no_route:
            emu.close_route(path)
        for route in args.route:
            path, _, kind = route.partition("=")
            emu.open_route(path, kind)
        emu.start()
    except (ValueError, OSError) as exc:
        p.error(str(exc))
    sys.stdout.write(f"evo_magic emulator listening on {emu.url}\n")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
