"""The house rules that import-linter's contracts (``pyproject.toml``, run by ``lint-imports``) cannot
state: no import circle, no module over 500 lines, and a function-local import of the project's own
modules only with a comment saying why.

A circle makes the import order matter and hides behind function-local imports; a module past ~500 lines
does several jobs. Both slowed every feature before the house was layered (issue 26: 4 circles, 8 modules
over 500 lines, 223 function-local project imports).
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bench", "mtcnn", "baselines", "protocols")
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _circles(graph: grimp.ImportGraph) -> list[set[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(group)
    return groups


def test_no_import_circle():
    """Every import counts (function-local ones too), except those only a type checker runs."""
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    assert _circles(graph) == []


def test_the_circle_finder_finds_a_circle():
    graph = grimp.ImportGraph()
    for module in ("a", "a.b", "a.c", "a.d"):
        graph.add_module(module)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a.b")
    graph.add_import(importer="a.d", imported="a.b")
    assert _circles(graph) == [{"a.b", "a.c"}]


@pytest.mark.parametrize("module", list(_modules()))
def test_module_size(module):
    lines = len(_modules()[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module}: {lines} lines; split it by job"


def _local_project_imports(path: Path) -> list[tuple[int, str]]:
    """Function-local imports of the project's modules whose lines carry no comment."""
    source = path.read_text()
    lines = source.splitlines()
    found = []
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            if not any(name.split(".")[0] in PACKAGES for name in names):
                continue
            text = "\n".join(lines[node.lineno - 1 : node.end_lineno])
            if "#" not in text:
                found.append((node.lineno, ast.unparse(node)))
    return sorted(set(found))


def test_function_local_project_imports_say_why():
    """A project module imported inside a function hides an import-order problem unless it is a heavy
    optional dependency loaded lazily; such an import says why in a comment on its line."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for path in _modules().values()
        for line, text in _local_project_imports(path)
    ]
    assert offenders == [], "\n".join(offenders)
