"""Hypothesis profiles (test helper): ``dev``, the default, runs a fifth of each property test's
examples (the quick loop); ``ci`` runs the full count (``HYPOTHESIS_PROFILE=ci``, set by .ci/run).

A test that asks for a count of its own writes ``@settings(max_examples=examples(300))``: 300
under ci, 60 under dev."""

from __future__ import annotations

import os

from hypothesis import settings

FULL = 100  # Hypothesis' own default
settings.register_profile("ci", max_examples=FULL)
settings.register_profile("dev", max_examples=FULL // 5)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def examples(n: int) -> int:
    """``n`` under the ci profile; the same share of it as the profile's default otherwise
    (at least 10)."""
    return max(10, n * settings().max_examples // FULL)
