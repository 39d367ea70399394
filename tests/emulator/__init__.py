"""Tests of ``evo_magic.emulator``."""
