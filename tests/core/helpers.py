"""Shared by the token-counting tests (tests/core, tests/emulator): the exact backend, recorded usage."""

from __future__ import annotations

import json

from ..conftest import recording

# V4-era requests without tools: the count must be exact
EXACT = ["stream_basic_nonthinking", "thinking_disabled", "thinking_enabled_effort_high"]


def recorded_usage(name: str) -> dict:
    rec = recording(name)
    if not rec["streamed"]:
        return json.loads(rec["response"])["usage"]
    usages = [json.loads(line[5:])["usage"] for line in rec["response"].decode().splitlines() if '"usage":{' in line]
    return usages[-1]
