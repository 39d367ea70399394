"""Tests that start a real IPython kernel (marker ``kernel``, applied by tests/conftest.py)."""
