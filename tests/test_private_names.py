"""No module uses another module's private names (issue 12, hygiene): what is shared is public."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "evo_magic"

KNOWN: set[tuple[str, str]] = set()  # no exceptions


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_uses(text: str, where: str) -> set[tuple[str, str]]:
    """(where, module.name) for each private name the module ``where`` (a path in the package,
    ``ledger/store.py``) of source ``text`` imports from, or reads off, another evo_magic module."""
    tree = ast.parse(text)
    package = Path(where).parent.parts
    found: set[tuple[str, str]] = set()
    modules: dict[str, str] = {}  # local name -> module, for `from . import module`
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or not (node.level or (node.module or "").startswith("evo_magic")):
            continue
        base = list(package[: len(package) - node.level + 1]) if node.level else []
        source = ".".join([*base, *(node.module or "").removeprefix("evo_magic").strip(".").split(".")]).strip(".")
        for alias in node.names:
            if _private(alias.name):
                found.add((where, f"{source}.{alias.name}"))
            modules[alias.asname or alias.name] = f"{source}.{alias.name}".strip(".")
    for node in ast.walk(tree):
        named = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        if named and _private(node.attr) and node.value.id in modules:
            found.add((where, f"{modules[node.value.id]}.{node.attr}"))
    return found


def test_no_module_uses_a_private_name_of_another() -> None:
    uses = set().union(
        *(private_uses(p.read_text(encoding="utf-8"), p.relative_to(PKG).as_posix()) for p in PKG.rglob("*.py"))
    )
    assert uses - KNOWN == set()


def test_the_scan_finds_imported_and_attribute_private_names() -> None:
    text = "from .pricing import _utc, as_utc\nfrom . import store\nfrom ..display import live\nstore._write\nlive._x\n"
    assert private_uses(text, "ledger/chart.py") == {
        ("ledger/chart.py", "ledger.pricing._utc"),
        ("ledger/chart.py", "ledger.store._write"),
        ("ledger/chart.py", "display.live._x"),
    }
    assert private_uses("from evo_magic.ledger.pricing import _utc\n", "batch/plan.py") == {
        ("batch/plan.py", "ledger.pricing._utc")
    }
