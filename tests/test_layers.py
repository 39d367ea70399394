"""The package's shape, enforced: layers import only downward, no import cycle, no module
imports the package root, modules and functions stay small (docs/architecture.md)."""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "evo_magic"

#: Bottom to top. A module imports from its own folder or from a lower layer, never sideways
#: into another folder of its own layer and never upward; the emulator, a standalone program,
#: uses only core.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("_version", "errors"),
    ("config", "fallback"),
    ("transport",),
    ("core",),
    ("protocol", "emulator"),
    ("display",),
    ("sessions",),
    ("ledger",),
    ("runtime",),
    ("batch", "panels"),
    ("notebook",),
)
LAYER = {unit: i for i, units in enumerate(LAYERS) for unit in units}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


@dataclass(frozen=True)
class Edge:
    source: str  # dotted module, without the "evo_magic." prefix ("" for the package root)
    target: str
    typing_only: bool  # under `if TYPE_CHECKING:`
    line: int


def modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        parts = list(path.relative_to(PKG).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def unit(module: str) -> str:
    """The layer unit of a module: its folder, or the top-level module's own name."""
    return module.split(".")[0]


def _typing_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


@functools.cache  # the package does not change during a run; four tests read the graph
def edges() -> tuple[Edge, ...]:
    mods = modules()
    found = []
    for name, path in mods.items():
        tree = ast.parse(path.read_text())
        typing_only = _typing_lines(tree)
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                    stem = ".".join([*base, *([node.module] if node.module else [])])
                elif node.module and node.module.split(".")[0] == "evo_magic":
                    stem = node.module.removeprefix("evo_magic").lstrip(".")
                else:
                    continue
                subs = [f"{stem}.{a.name}".lstrip(".") for a in node.names if f"{stem}.{a.name}".lstrip(".") in mods]
                targets = subs or [stem]
            elif isinstance(node, ast.Import):
                targets = [a.name.removeprefix("evo_magic").lstrip(".") for a in node.names if a.name.startswith("evo_magic")]
            for target in targets:
                if target != name:
                    found.append(Edge(name, target, node.lineno in typing_only, node.lineno))
    return tuple(found)


def test_no_module_imports_the_package_root() -> None:
    assert [e for e in edges() if e.target == "" and e.source] == []


def test_layers_import_only_downward() -> None:
    wrong = []
    for e in edges():
        if not e.source or not e.target:
            continue
        src, dst = unit(e.source), unit(e.target)
        assert src in LAYER and dst in LAYER, f"{src} or {dst} has no layer: add it to LAYERS"
        if src != dst and LAYER[dst] >= LAYER[src]:
            wrong.append(f"{e.source}:{e.line} imports {e.target}")
    assert wrong == []


def test_the_emulator_uses_only_core() -> None:
    assert [e for e in edges() if unit(e.source) == "emulator" and unit(e.target) not in ("emulator", "core")] == []


def test_no_import_cycle() -> None:
    """No cycle of imports between modules, type-only imports (under TYPE_CHECKING) included:
    what an event or a hook names of its sender is a Protocol beside it (SessionRef, Panel)."""
    graph: dict[str, set[str]] = {}
    for e in edges():
        if e.source:
            graph.setdefault(e.source, set()).add(e.target)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join([*stack[stack.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_modules_and_functions_stay_small() -> None:
    too_long = []
    for name, path in modules().items():
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"module {name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"function {name}.{node.name}: {length} lines")
    assert too_long == []
