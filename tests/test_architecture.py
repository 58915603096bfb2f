"""The package's shape: no module imports another that imports it back (directly or around a
longer circle), and no module takes another's private names."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "include" / "iepwatch"


def _modules() -> dict[str, Path]:
    out = {}
    for p in PACKAGE.rglob("*.py"):
        if "node_modules" in p.parts:
            continue
        name = ".".join(("iepwatch", *p.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
        out[name] = p
    return out


def _imports() -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    private = []
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("iepwatch"):
                for target in (node.module, *(f"{node.module}.{a.name}" for a in node.names)):
                    if target in mods and target != name and target != "iepwatch":
                        graph[name].add(target)
                private += [(name, node.module, a.name) for a in node.names
                            if a.name.startswith("_") and node.module != name]
            elif isinstance(node, ast.Import):
                graph[name] |= {a.name for a in node.names if a.name in mods and a.name != name}
    return graph, private


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_module_imports_another_that_imports_it_back():
    graph, _ = _imports()
    assert _circles(graph) == []


def test_the_checker_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]


def test_no_private_name_is_taken_across_modules():
    _, private = _imports()
    assert private == []


FEATURES = ("ingest", "quality", "rules", "corrections", "digests", "extracts", "ui", "deployment")


def test_the_feature_folders_are_the_packages_and_the_tests_mirror_them():
    """Each feature is a folder of the package, and its tests are the folder of that name in tests/."""
    tests = PACKAGE.parents[1] / "tests"
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()} - {"tasks"}
    assert folders == set(FEATURES)
    for feature in FEATURES:
        assert list((tests / feature).glob("test_*.py")), f"tests/{feature}/ holds no tests"


def test_the_package_never_imports_the_development_tools():
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = [node.module] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            assert not any(m and m.split(".")[0] in ("tools", "tests") for m in modules), name
