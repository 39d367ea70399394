"""Tests of ``evo_magic.protocol``."""
