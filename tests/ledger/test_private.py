"""The ledger holds prompts and answers: EVO_MAGIC_HOME is created 0700 and the ledger's files
(database, -wal, -shm, -journal) 0600, whatever the umask; an existing, more open ledger is
tightened when it is opened."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from evo_magic.ledger.pricing import home_dir
from evo_magic.ledger.store import Ledger

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)  # the most open umask: nothing may depend on it
    try:
        yield
    finally:
        os.umask(previous)


def sidecars(db: Path) -> list[Path]:
    return [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}-journal")) if p.exists()]


def test_a_new_home_and_ledger_are_private(open_umask: None) -> None:
    home = home_dir()
    assert not home.exists()
    with Ledger() as ledger:
        ledger.notebooks()  # a read with the connection open: WAL and shared memory exist now
        files = sidecars(ledger.path)
        assert {p.name for p in files} >= {"ledger.sqlite3", "ledger.sqlite3-wal", "ledger.sqlite3-shm"}
        assert mode(home) == 0o700
        assert {p.name: oct(mode(p)) for p in files} == {p.name: oct(0o600) for p in files}


def test_an_existing_open_ledger_is_tightened(open_umask: None) -> None:
    home = home_dir()
    with Ledger() as ledger:
        ledger.notebooks()
        path = ledger.path
    home.chmod(0o755)  # as earlier versions left it
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        p.touch()
        p.chmod(0o644)
    with Ledger() as ledger:
        ledger.notebooks()
    assert mode(home) == 0o700
    assert {p.name: oct(mode(p)) for p in sidecars(path)} == {p.name: oct(0o600) for p in sidecars(path)}
    path.chmod(0o400)  # stricter than ours stays as it is
    home.chmod(0o500)
    try:
        assert mode(path) == 0o400
    finally:
        home.chmod(0o700)


def test_a_ledger_path_given_explicitly_is_private_too(open_umask: None, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "usage.sqlite3"
    with Ledger(path) as ledger:
        ledger.notebooks()
    assert mode(path.parent) == 0o700 and mode(path) == 0o600
