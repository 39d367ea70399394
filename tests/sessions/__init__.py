"""Tests of ``evo_magic.sessions``."""
