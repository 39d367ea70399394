"""Tests of evo_magic.batch, the engine behind ``evo_magic.map`` (pure ones and loopback ones)."""
