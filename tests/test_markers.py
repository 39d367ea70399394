"""The slow markers are enforced: a test that is not marked ``kernel`` cannot start a kernel
(tests/markers.py), so the quick loop never starts one by accident."""

from __future__ import annotations

import pytest

from . import markers
from .kernel.harness import Kernel


def test_starting_a_kernel_without_the_marker_fails_at_once_with_a_clear_message() -> None:
    with pytest.raises(AssertionError) as caught:
        Kernel({})
    message = str(caught.value)
    assert "test_markers.py::test_starting_a_kernel_without_the_marker" in message
    assert "starts a real kernel but is not marked 'kernel': move it to tests/kernel/" in message


def test_outside_pytest_the_benchmarks_may_start_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(markers, "_running", [])  # no running test, as in benchmarks/
    markers.require("kernel", "starts a real kernel")
