"""Tests of ``evo_magic.display``."""
