"""The README's first command installs what both notebooks need."""

from __future__ import annotations

import ast
import json
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib")  # Python 3.11+


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imports(notebook: Path) -> set[str]:
    roots: set[str] = set()
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        code = "".join(cell["source"])
        if code.lstrip().startswith("%%"):
            continue  # a cell magic's body is not Python
        code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines())
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Import):
                roots |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots.add(node.module.split(".")[0])
    return roots


def test_the_first_command_of_the_readme_installs_every_notebooks_imports() -> None:
    readme = (ROOT / "README.md").read_text()
    first = re.search(r"```sh\n(.*?)```", readme, re.S)
    assert first is not None and 'pip install -e ".[notebook]"' in first.group(1)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    installed = {_name(r) for r in [*project["dependencies"], *project["optional-dependencies"]["notebook"]]}
    installed.add("evo-magic")
    dists = packages_distributions()
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert {n.name for n in notebooks} >= {"quickstart.ipynb", "data_science.ipynb"}
    for notebook in notebooks:
        for module in _imports(notebook) - set(sys.stdlib_module_names):
            names = {_name(d) for d in dists.get(module, [module])}
            assert names & installed, f"{notebook.name} imports {module}, which [notebook] does not install"
