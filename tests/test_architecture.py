"""Import boundaries of `streams/`, checked the way Osprey checks its worker for gevent.

- Only `streams/adapters/faust/` may import `faust`, `mode` or `aiokafka`: statically (any
  import statement, also inside a function) and in a fresh interpreter that imports every other
  module of the package and fails naming the module whose import statement loaded one of them.
- The worker imports nothing from the bench (`guardline_bench/`); only the `bench` command of
  the CLI does, when it runs.
- No import cycle inside `streams/` (imports under `if TYPE_CHECKING:` do not run, so do not
  count).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "streams"
FRAMEWORKS = ("faust", "mode", "aiokafka")
ADAPTER = "streams.adapters.faust"
BENCH = "guardline_bench"
BENCH_IMPORTERS = {"streams.cli"}  # `guardline bench`, imported inside the command only


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def in_adapter(name: str) -> bool:
    return name == ADAPTER or name.startswith(ADAPTER + ".")


def imports(path: Path, name: str) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import statement that runs (not TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            yield base, node.lineno
            for alias in node.names:  # `from streams.pipeline import route`: a module
                yield f"{base}.{alias.name}", node.lineno


def test_only_the_faust_adapter_imports_faust_mode_or_aiokafka_statically() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for name, path in modules().items()
        if not in_adapter(name)
        for target, line in imports(path, name)
        if target.split(".")[0] in FRAMEWORKS
    ]
    assert not found, "\n".join(found)


PROBE = """
import builtins, importlib, json, sys
FRAMEWORKS = set(sys.argv[1].split(","))
loaded = {}
real_import = builtins.__import__

def spy(name, globals=None, locals=None, fromlist=(), level=0):
    root = name.split(".")[0]
    if level == 0 and root in FRAMEWORKS and root not in sys.modules:
        importer = (globals or {}).get("__name__", "?")
        loaded.setdefault(root, importer)
    return real_import(name, globals, locals, fromlist, level)

builtins.__import__ = spy
for name in sys.argv[2:]:
    before = dict(loaded)
    importlib.import_module(name)
    for root, importer in loaded.items():
        if root not in before:
            loaded[root] = f"{importer} (while importing {name})"
print(json.dumps({"loaded": loaded, "modules": sorted(sys.modules)}))
"""


def probe(names: list[str], watch: tuple[str, ...]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(watch), *names],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_no_module_outside_the_adapter_loads_faust_mode_or_aiokafka() -> None:
    """One fresh interpreter imports every other module: none of the three may be loaded."""
    names = [name for name in modules() if not in_adapter(name) and name != "streams.__main__"]
    result = probe(names, FRAMEWORKS)
    loaded = result["loaded"]
    assert isinstance(loaded, dict)
    assert not loaded, "\n".join(f"{root} imported by {who}" for root, who in loaded.items())
    stray = [m for m in result["modules"] if m.split(".")[0] in FRAMEWORKS]  # type: ignore[attr-defined]
    assert not stray, stray


def test_the_probe_names_the_importer() -> None:
    """The check above can fail, and says who: the adapter's app does load Faust."""
    result = probe([f"{ADAPTER}.app"], FRAMEWORKS)
    loaded = result["loaded"]
    assert isinstance(loaded, dict)
    assert loaded["faust"].startswith(f"{ADAPTER}.app"), loaded


def test_the_worker_imports_nothing_from_the_bench() -> None:
    static = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for name, path in modules().items()
        if name not in BENCH_IMPORTERS
        for target, line in imports(path, name)
        if target.split(".")[0] == BENCH
    ]
    assert not static, "\n".join(static)
    result = probe([f"{ADAPTER}.app", "streams.cli"], (BENCH,))
    assert not result["loaded"], result["loaded"]


def import_graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for target, _line in imports(path, name):
            if target in known and target != name:
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
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
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_inside_streams() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
