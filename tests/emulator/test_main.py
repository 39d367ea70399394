"""Tests of ``python -m evo_magic.emulator`` (``evo_magic.emulator.__main__``)."""

from __future__ import annotations

import pytest

from evo_magic.emulator.__main__ import main


def test_command_line_takes_latency_and_limit(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--latency", "-2"])
    assert "latency" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--max-concurrency", "0"])
    assert "max_concurrency" in capsys.readouterr().err
