"""Tests of ``evo_magic.notebook``."""
