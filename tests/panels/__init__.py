"""Tests of ``evo_magic.panels``."""
