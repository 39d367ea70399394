"""Files only their owner may read: the evo_magic home (0700) and the ledger in it (0600).

The ledger holds prompts and answers. Modes are set explicitly, whatever the umask: a folder is
created 0700 and a file 0600 (SQLite gives its -wal, -shm and -journal files the database's
mode), and one that already exists more open than that is tightened, never loosened. On
Windows, where chmod only toggles read-only, this changes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


def private_dir(path: Path, *, tighten: bool = True) -> None:
    """Create ``path`` (and missing parents) with mode 0700; an existing folder is tightened to
    0700 only with ``tighten`` (the evo_magic home is ours; a folder given for a file is not)."""
    existed = path.is_dir()
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    if tighten or not existed:
        restrict(path, PRIVATE_DIR)


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it is missing; tighten it to 0600 if it exists."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    restrict(path, PRIVATE_FILE)


def private_database(path: Path) -> None:
    """An SQLite database file and whichever of its -wal, -shm and -journal files exist: 0600."""
    private_file(path)
    for suffix in SQLITE_SIDECARS:
        sidecar = Path(f"{path}{suffix}")
        if sidecar.exists():
            restrict(sidecar, PRIVATE_FILE)


def restrict(path: Path, allowed: int) -> None:
    """Drop every permission bit of ``path`` beyond ``allowed`` (a file of another user, which
    we may not chmod, is left as it is)."""
    try:
        current = stat.S_IMODE(os.stat(path).st_mode)
        if current & ~allowed:
            os.chmod(path, current & allowed)
    except OSError as exc:
        log.debug("cannot restrict %s to %o: %s", path, allowed, exc)
