"""The package's shape: imports run one way (core <- data <- stats <- analyses <- report <- run), with no
cycle, no package import hidden inside a function, and no module much over 600 lines without a reason."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "evaluation"
LAYERS = ("core", "data", "stats", "analyses", "report", "run")  # each may import only those before it
LONG_MODULES = {  # module -> why it is longer than 600 lines
}
MAX_LINES = 600
CLI = "evaluation.__main__"  # the command line imports a command's module when the command runs: it starts fast


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> list[str]:
    """The package modules an import statement names (``from . import x`` names module ``x``)."""
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not target.startswith("evaluation"):
        return []
    return [target] + [f"{target}.{a.name}" for a in node.names]


def modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(top_level_only: bool) -> dict[str, set[str]]:
    """module -> the package modules it imports (at the top level, or anywhere)."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes = tree.body if top_level_only else list(ast.walk(tree))
        found: set[str] = set()
        for node in nodes:
            if isinstance(node, ast.If) and top_level_only:  # `if TYPE_CHECKING:` blocks are not run
                continue
            if isinstance(node, ast.ImportFrom):
                found |= {t for t in _resolve(name, node, path.name == "__init__.py") if t in known}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name in known}
        graph[name] = found - {name}
    return graph


def layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle():
    assert cycles(imports(top_level_only=False)) == []


def test_imports_run_one_way():
    upward = [f"{a} imports {b}" for a, bs in imports(top_level_only=False).items() for b in sorted(bs)
              if layer(a) is not None and layer(b) is not None and layer(b) > layer(a)]
    assert upward == []


def test_analyses_do_not_import_each_other_in_a_cycle_and_core_is_a_leaf():
    graph = imports(top_level_only=False)
    assert [f"{a} imports {b}" for a, bs in graph.items() if layer(a) == 0 for b in bs if layer(b) != 0] == []


def test_no_package_import_inside_a_function():
    hidden = []
    for name, path in modules().items():
        if name == CLI:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and id(node) not in top and (node.level or (node.module or "").startswith("evaluation")):
                hidden.append(f"{name}:{node.lineno}")
            if isinstance(node, ast.Import) and id(node) not in top and any(a.name.startswith("evaluation") for a in node.names):
                hidden.append(f"{name}:{node.lineno}")
    assert hidden == []


def test_modules_are_short_or_say_why():
    long = {name: n for name, path in modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES and name not in LONG_MODULES}
    assert long == {}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_is_a_package_with_a_docstring(name):
    init = PACKAGE / name / "__init__.py"
    assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"{init} needs a docstring saying what lives there"


def test_the_checks_can_fail():
    """The walker finds a cycle and an upward import in a tiny graph (so an empty result means something)."""
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    assert layer("evaluation.report.pack") > layer("evaluation.analyses.value.compute")
