"""Tests of ``evo_magic.ledger``."""
