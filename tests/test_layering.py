"""The packages' layering: no import circle (package `__init__`s counted), layers that only look down, and the
training job and the CLI on top of the daemon's services."""

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


def _modules(root=REPO, packages: tuple[str, ...] = ("bot", "training")) -> dict[str, object]:
    """Every module of the packages under `root` by dotted name (a package by its own name)."""
    out = {}
    for path in [p for package in packages for p in (root / package).rglob("*.py")]:
        parts = path.relative_to(root).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _edges(modules: dict[str, object]) -> dict[str, set[str]]:
    """Who imports whom, at any depth of the code (an import inside a function counts), resolved to modules.

    Importing `a.b.c` first runs `a/__init__.py` and `a/b/__init__.py`: each package on the way counts as imported
    too, except the importer's own packages (they are loaded before the importer runs).
    """
    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        own = {*_ancestors(name), name}
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
                if not found:
                    continue
                for module in [*_ancestors(found), found]:
                    if module in modules and module not in own:
                        edges[name].add(module)
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


def test_a_loop_through_a_package_init_is_found(tmp_path) -> None:
    # pkg/__init__ re-exports pkg.a; pkg.a uses other.b; other.b imports pkg.c, which first runs pkg/__init__.
    files = {"pkg/__init__.py": "from pkg.a import x\n", "pkg/a.py": "from other.b import y\nx = 1\n",
             "pkg/c.py": "", "other/__init__.py": "", "other/b.py": "import pkg.c\ny = 2\n"}
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    edges = _edges(_modules(tmp_path, ("pkg", "other")))
    assert _circles(edges) == [["other.b", "pkg", "pkg.a"]]
    # Counted module to module only (the package's __init__ left out), the same tree shows no circle.
    assert _circles({name: {t for t in targets if t != "pkg"} for name, targets in edges.items()}) == []


# The layers from the bottom up, in data-flow order: a module may import its own layer and those below, never one
# above. A name stands for a module or a package (the longest name that covers a module decides its layer).
LAYERS: list[tuple[str, ...]] = [
    ("bot", "bot.errors", "bot.timeutil", "bot.files", "bot.limits", "bot.logs", "bot.check", "bot.controls"),
    ("bot.config",),
    ("bot.links",),  # every absolute link to the review site: config only
    ("bot.store",),
    ("bot.drafts.media",),  # the one reader of a draft's media: vision and captions read a draft's photos through it
    ("bot.runtime",),
    ("bot.video",),  # a clip's facts and frames (PyAV)
    ("bot.ingest",),
    ("bot.vision",),
    ("bot.captions",),
    ("bot.drafts",),
    ("bot.captions.stage",),  # the stage that writes a draft's captions sits on the drafts it writes
    ("bot.drafts.regenerate",),  # new captions for a draft: the owner's action over the caption stage
    ("bot.runtime.services",),  # hands out Vision and the Captioner
    ("bot.notifications", "bot.thumbnails"),
    # making a Reel: its 9:16 frame follows bot.publish.framing's rule for photos, and publishing asks for it
    ("bot.publish", "bot.video.reelplan", "bot.video.transcode", "bot.video.reelfile"),
    ("bot.pipeline", "bot.status", "bot.home"),
    ("bot.web",),
    ("bot.daemon",),
    # restore refuses while a daemon runs; doctor checks everything; model_download fetches what the config runs
    ("bot.store.restore", "bot.doctor", "bot.model_download"),
    ("training",),
    ("bot.cli", "bot.__main__"),
]


def _layer(module: str) -> int:
    covering = [(len(name), i) for i, names in enumerate(LAYERS) for name in names
                if module == name or module.startswith(name + ".")]
    assert covering, f"{module} is in no layer: add it to LAYERS"
    return max(covering)[1]


def _upward(edges: dict[str, set[str]], empty: frozenset[str] = frozenset()) -> list[str]:
    """The imports that run up a layer; a package whose `__init__` imports nothing (`empty`) pulls nothing up."""
    return sorted(f"{m} -> {t}" for m, targets in edges.items() for t in targets
                  if t not in empty and _layer(t) > _layer(m))


def _empty_packages(modules: dict[str, object], edges: dict[str, set[str]]) -> frozenset[str]:
    return frozenset(name for name, path in modules.items() if path.name == "__init__.py" and not edges[name])


def test_the_upward_import_finder_finds_them() -> None:
    assert _upward({"bot.store.database": {"bot.config", "bot.vision.images"}}) == [
        "bot.store.database -> bot.vision.images"]
    assert _upward({"bot.store.database": {"bot.vision"}}, empty=frozenset({"bot.vision"})) == []


def test_no_import_runs_back_up() -> None:
    modules = _modules()
    edges = _edges(modules)
    assert _upward(edges, _empty_packages(modules, edges)) == []


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
