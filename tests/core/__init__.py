"""Tests of ``evo_magic.core``."""
