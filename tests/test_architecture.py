"""The shape of the package: one-way imports, small top level, layouts known only to data/.

Imports are read from the source with ``ast`` (imports inside functions and under
``TYPE_CHECKING`` included), so a circle hidden in a function body fails here too.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

import ssmcast

PACKAGE = Path(ssmcast.__file__).parent
LAYOUT_CLASSES = ("SeriesLayout", "WideLayout", "LongLayout", "DataArrayLayout", "DatasetLayout")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The ssmcast module an imported name lives in (a module, or the package defining it)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


@functools.cache
def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{parent}.{base}" if base else parent
                targets = [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                if target.split(".")[0] != "ssmcast":
                    continue
                resolved = _resolve(target, modules)
                if resolved and resolved != name:
                    graph[name].add(resolved)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_checker_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_import_circle_among_ssmcast_modules():
    graph = _graph()
    assert "ssmcast.backtesting._engine" in graph["ssmcast.backtesting._api"]  # it reads imports
    assert _cycles(graph) == []


def test_results_know_nothing_of_plots_and_io_knows_no_estimator():
    graph = _graph()
    assert "ssmcast.plot" not in graph["ssmcast.backtesting._result"]
    assert not {m for m in graph["ssmcast.io"] if m != "ssmcast._version"}
    assert not {m for m in graph["ssmcast.data"] if not m.startswith("ssmcast.data")}


@pytest.mark.parametrize("inner", ["ssmcast.ssm", "ssmcast.layers", "ssmcast.models"])
def test_the_core_does_not_import_the_shell(inner):
    shell = ("ssmcast.data", "ssmcast.forecaster", "ssmcast.backtesting", "ssmcast.cli")
    for name, imports in _graph().items():
        if name.startswith(inner):
            assert not [m for m in imports if m.startswith(shell)], name


def test_at_most_twelve_modules_at_the_top_level():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 12, top


def test_layout_classes_are_named_only_inside_data():
    outside = []
    for name, path in _modules().items():
        if name.startswith("ssmcast.data"):
            continue
        text = path.read_text()
        outside += [f"{name}: {cls}" for cls in LAYOUT_CLASSES if cls in text]
    assert outside == []
