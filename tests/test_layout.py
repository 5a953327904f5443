"""The package layout: no import circle anywhere under src/, layers that depend one way, and
no source file over 600 lines (docs/DEVELOPING.md, "Layout").

The import graph is built from the source with ``ast``: every import counts, including those
inside functions and under ``if TYPE_CHECKING:``, since a reader cannot tell those apart from
the ones that run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: Lower layers first: a module may import its own layer or a lower one, never a higher one.
#: ``actlab/__init__.py`` (the public facade) sits above them all; ``actlab/__main__.py``
#: (``python -m actlab``) is the command itself, on top.
LAYERS = ("_version", "_env", "_datafolder", "activations", "data", "probes", "integrations", "training", "verdicts", "claims",
          "runs", "compare", "plots", "report", "cli", "__main__")
MAX_LINES = 600


def module_names(src: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under ``src`` (packages by their __init__)."""
    out = {}
    for path in sorted(src.rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def import_graph(src: Path) -> dict[str, set[str]]:
    """module -> the modules of the same tree it imports (anywhere in the file)."""
    modules = module_names(src)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        package = name.split(".") if is_package else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                    base_name = ".".join(base + ([node.module] if node.module else []))
                else:
                    base_name = node.module or ""
                for alias in node.names:
                    sub = f"{base_name}.{alias.name}"
                    targets.append(sub if sub in modules else base_name)
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, as one closed path per strongly connected component (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_closed_path(graph, set(c)) for c in components]


def _closed_path(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A path a -> ... -> a inside one strongly connected component (breadth first)."""
    start = min(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, v, start]
                if w not in previous:
                    previous[w] = v
                    nxt.append(w)
        frontier = nxt
    return sorted(component)


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def upward_imports(graph: dict[str, set[str]], layers: tuple[str, ...] = LAYERS) -> list[str]:
    """Imports from a lower layer into a higher one, as 'a (layer) -> b (layer)'."""
    bad = []
    for a, targets in sorted(graph.items()):
        la = layer_of(a)
        if la is None:
            continue
        if la not in layers:
            bad.append(f"{a}: its package {la!r} has no place in the layer order {layers}")
            continue
        for b in sorted(targets):
            lb = layer_of(b)
            if lb is None:
                bad.append(f"{a} ({la}) -> {b} (the package facade)")
            elif lb in layers and layers.index(lb) > layers.index(la):
                bad.append(f"{a} ({la}) -> {b} ({lb})")
    return bad


def test_no_import_circle_under_src():
    found = circles(import_graph(SRC))
    assert not found, "import circles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_layers_depend_one_way():
    bad = upward_imports(import_graph(SRC))
    assert not bad, f"imports against the layer order {' < '.join(LAYERS)}:\n" + "\n".join(bad)


def test_no_source_file_over_600_lines():
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these at their seams (at most {MAX_LINES} lines each): {long}"


def test_the_graph_sees_every_kind_of_import():
    graph = import_graph(SRC)
    # a function-level import (claims are loaded when first used)
    assert "actlab.claims" in graph["actlab.cli.run"]
    # `from . import stats` is an edge to the module, not to the package
    assert "actlab.probes.stats" in graph["actlab.probes.monitor"]
    assert "actlab.probes" not in graph["actlab.probes.monitor"]


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize("b_imports_a", [
    "from .a import x\n",
    "def f():\n    from .a import x\n",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import x\n",
    "from . import a\n",
    "import pkg.a\n",
])
def test_a_planted_circle_is_found_and_named(tmp_path, b_imports_a):
    src = _plant(tmp_path, {"__init__.py": "", "a.py": "from .b import y\nx = 1\n", "b.py": b_imports_a + "y = 2\n",
                            "c.py": "from .a import x\n"})
    found = circles(import_graph(src))
    assert found == [["pkg.a", "pkg.b", "pkg.a"]]


def test_a_circle_through_a_package_init_is_found(tmp_path):
    src = _plant(tmp_path, {"__init__.py": "from .part import run\nSHARED = 1\n",
                            "part.py": "def run():\n    from . import SHARED\n    return SHARED\n"})
    assert circles(import_graph(src)) == [["pkg", "pkg.part", "pkg"]]


def test_a_planted_upward_import_is_found(tmp_path):
    src = _plant(tmp_path, {"__init__.py": "", "low/__init__.py": "", "low/m.py": "def f():\n    from ..high import g\n",
                            "high/__init__.py": "", "high/g.py": "from ..low import m\n"})
    bad = upward_imports(import_graph(src), layers=("low", "high"))
    assert bad == ["pkg.low.m (low) -> pkg.high.g (high)"]
