"""The packages' layering: `training` builds on `bot`, and nothing in `bot/` but the CLI imports `training`."""

from __future__ import annotations

import ast
import re

from tests.conftest import REPO


def _imported(path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_only_the_cli_imports_training() -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(n for n in _imported(path) if n.split(".")[0] == "training")
        for path in (REPO / "bot").rglob("*.py")
        if "cli" not in path.relative_to(REPO / "bot").parts[:1]
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def _modules() -> dict[str, object]:
    """Every module of bot/ and training/ by dotted name (a package by its own name)."""
    out = {}
    for path in [*(REPO / "bot").rglob("*.py"), *(REPO / "training").rglob("*.py")]:
        parts = path.relative_to(REPO).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _edges(modules: dict[str, object]) -> dict[str, set[str]]:
    """Who imports whom, at any depth of the code (an import inside a function counts), resolved to modules."""
    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                # `from package import submodule` depends on the submodule (a parent package runs anyway).
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                found = resolve(target)
                if found and found != name:
                    edges[name].add(found)
    return edges


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
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
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_circle_finder_finds_circles_and_only_them() -> None:
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles_in_bot_and_training() -> None:
    assert _circles(_edges(_modules())) == []


def test_the_cli_holds_no_sql() -> None:
    sql = re.compile(r"\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b|\bstore\.(all|one|value)\(|\.execute\(")
    offenders = {str(path.relative_to(REPO)): [line.strip() for line in path.read_text().splitlines()
                                               if sql.search(line)]
                 for path in (REPO / "bot" / "cli").rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_module_stays_under_400_lines() -> None:
    long = {str(p.relative_to(REPO)): n for p in [*(REPO / "bot").rglob("*.py"), *(REPO / "training").rglob("*.py")]
            if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}
