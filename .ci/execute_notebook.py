"""Execute a notebook headlessly (nbclient) and fail on any error output (except in cells
tagged ``raises-exception``, which fail on purpose).

Usage: python .ci/execute_notebook.py NOTEBOOK [--keep OUT.ipynb]
EVOLINK_API_KEY is removed, so the notebook runs on the bundled emulator.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def main(argv: list[str]) -> int:
    path = Path(argv[0])
    keep = Path(argv[argv.index("--keep") + 1]) if "--keep" in argv else None
    for name in [n for n in os.environ if n.startswith("EVOLINK_")]:
        del os.environ[name]
    # name the notebook as JupyterLab does, so each notebook has its own ledger history
    os.environ["JPY_SESSION_NAME"] = str(path.resolve())
    nb = nbformat.read(path, as_version=4)
    started = time.monotonic()
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    problems = []
    for i, cell in enumerate(nb.cells):
        expected_error = "raises-exception" in cell.get("metadata", {}).get("tags", [])
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and not expected_error:
                problems.append(f"cell {i}: {out.get('ename')}: {out.get('evalue')}")
            elif out.get("output_type") == "stream" and out.get("name") == "stderr":
                problems.append(f"cell {i}: stderr: {out.get('text', '')[:300]}")
    if keep:
        nbformat.write(nb, keep)
    took = time.monotonic() - started
    if problems:
        sys.stderr.write(f"{path}: {len(problems)} error output(s) in {took:.1f} s\n")
        sys.stderr.write("\n".join(problems) + "\n")
        return 1
    sys.stdout.write(f"{path}: {len(nb.cells)} cells ran clean in {took:.1f} s\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
