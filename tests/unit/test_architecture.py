"""The layers stack one way and no module imports itself in a circle.

Every ``import`` in the four packages counts, module-level and function-level alike (a
function-level import still loads the whole circle at run time); only imports under
``if TYPE_CHECKING:`` are left out, since they never run. The layers are
kg < model < retrieval < pipeline: a module may import its own layer or lower ones.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {"kg": 0, "model": 1, "retrieval": 2, "pipeline": 3}


def _modules() -> dict[str, Path]:
    found = {}
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _typing_only(tree: ast.Module) -> set[int]:
    """Ids of the import nodes under ``if TYPE_CHECKING:``."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skip


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports (``from a import b`` is ``a.b`` when that is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _typing_only(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            out |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}
    return {m for m in out if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = [f"{m} -> {d}" for m, deps in _graph().items() for d in sorted(deps)
              if LAYERS[d.split(".")[0]] > LAYERS[m.split(".")[0]]]
    assert upward == []


def test_there_is_no_import_cycle() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(path[path.index(dep):] + [dep] if dep in path else [node, dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_checker_sees_function_level_imports_and_cycles(tmp_path: Path) -> None:
    """The checks above would catch what they are for (a function-level import closing a circle)."""
    a = tmp_path / "a.py"
    a.write_text("def f():\n    from pipeline import api\n")
    modules = {"pipeline.a": a, "pipeline.api": a, "pipeline": a}
    assert _imports("pipeline.a", a, modules) == {"pipeline.api"}
    b = tmp_path / "b.py"
    b.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pipeline import api\n")
    assert _imports("pipeline.b", b, {**modules, "pipeline.b": b}) == set()
