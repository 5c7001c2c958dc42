"""The packages' layering: `training` builds on `bot`, and nothing in `bot/` but the CLI imports `training`."""

from __future__ import annotations

import ast

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
