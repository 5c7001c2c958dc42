"""No module outside bot/publish/publishers/ names a publisher: not by a string equal to its config name, not by
importing its module. Everything else asks the registry, so a new publisher is one module and one registry line."""

from __future__ import annotations

import ast

from bot.publish.publishers.registry import MODULES
from tests.conftest import REPO

PUBLISHERS = "bot.publish.publishers"


def _config_default(tree: ast.AST) -> ast.AST | None:
    """The default of `[instagram] publisher` in the config model: the contract's default value, which the config
    (the layer below the publishers) states as a value and cannot ask the registry for."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "InstagramConfig":
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and getattr(item.target, "id", None) == "publisher":
                    return item.value
    return None


def mentions(source: str, names: set[str]) -> list[str]:
    """Where `source` names a publisher: a string constant equal to a publisher's name, or an import of a module in
    the publishers' folder other than the registry."""
    tree = ast.parse(source)
    default = _config_default(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names \
                and node is not default:
            found.append(f"line {node.lineno}: {node.value!r}")
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        for module in modules:
            if module.startswith(f"{PUBLISHERS}.") and module != f"{PUBLISHERS}.registry" \
                    and not module.startswith(f"{PUBLISHERS}.registry."):
                found.append(f"line {node.lineno}: imports {module}")
                break
    return found


def _outside_the_publishers() -> dict[str, str]:
    inside = REPO / "bot" / "publish" / "publishers"
    return {str(path.relative_to(REPO)): path.read_text() for root in ("bot", "training")
            for path in sorted((REPO / root).rglob("*.py")) if not path.is_relative_to(inside)}


def test_no_module_outside_the_publishers_names_one() -> None:
    names = set(MODULES)
    offenders = {name: found for name, source in _outside_the_publishers().items()
                 if (found := mentions(source, names))}
    assert offenders == {}


def test_the_check_catches_a_deliberate_offender() -> None:
    names = set(MODULES)
    assert mentions('if config.instagram.publisher == "graph":\n    pass\n', names) == ["line 1: 'graph'"]
    assert mentions("from bot.publish.publishers.graph.token import token_notice\n", names) \
        == ["line 1: imports bot.publish.publishers.graph.token"]
    assert mentions("from bot.publish.publishers import by_hand\n", names) \
        == ["line 1: imports bot.publish.publishers.by_hand"]
    assert mentions("import bot.publish.publishers.dryrun as d\n", names) \
        == ["line 1: imports bot.publish.publishers.dryrun"]
    # Asking the registry, and words that merely contain a name, are fine.
    assert mentions("from bot.publish.publishers.registry import kind_for\nx = 'dry-run publisher'\n", names) == []
    # The config's default value is the one exception, and only there.
    config = 'class InstagramConfig(Section):\n    publisher: str = "dry-run"\n'
    assert mentions(config, names) == []
    assert mentions(config + 'OTHER = "dry-run"\n', names) == ["line 3: 'dry-run'"]
