"""The package's layers point one way (docs/architecture.md): no import cycle between its
modules, counting imports inside functions, and no module over 550 lines (migrations
excluded).

The graph is read from the source with ``ast``, not from ``sys.modules``: an import inside a
function, which runs only when the function is called, counts like one at the top. The tests
at the bottom check the graph function itself on a small package made in ``tmp_path``, so the
package tests cannot pass because the graph is empty.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

import pytest

import wagtail_member_access

PACKAGE = Path(wagtail_member_access.__file__).resolve().parent
MAX_LINES = 550


def package_modules(root: Path) -> dict[str, Path]:
    """Every module of the package in ``root`` by dotted name (a package by its own name,
    for its ``__init__.py``); migrations are left out."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if "migrations" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join((root.name, *parts))] = path
    return found


def _nearest_module(name: str, modules) -> str | None:
    """``name``, or the closest package module above it (``pkg.models.Grant`` is
    ``pkg.models``); None outside the package."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imported(node, current: str, is_package: bool, modules) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level == 0:
        base = node.module or ""
    else:
        # The package the relative import starts from: the module's own package, one more
        # level up for each further dot.
        package = current if is_package else current.rpartition(".")[0]
        parts = package.split(".")
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join([*parts, node.module] if node.module else parts)
    # ``from . import x`` imports the module x when there is one, else a name of the package.
    return [
        f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
        for alias in node.names
    ]


def import_graph(root: Path) -> dict[str, set[str]]:
    """For each module of the package in ``root``, the package's modules it imports,
    anywhere in its source (inside functions and ``if TYPE_CHECKING:`` blocks too), with
    relative imports resolved. Imports of other packages are left out, and so is a module's
    import of itself."""
    modules = package_modules(root)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _imported(node, name, is_package, modules):
                module = _nearest_module(target, modules)
                if module is not None and module != name:
                    graph[name].add(module)
    return graph


def _components(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of ``graph`` (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _one_cycle(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the first module of ``component``: ``[a, b, …, a]``."""
    start = min(component)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(graph[node] & component):
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if target not in came_from:
                came_from[target] = node
                queue.append(target)
    raise AssertionError(f"no cycle in the component {sorted(component)}")


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle, ``[a, b, …, a]``, for each group of modules that import each other
    directly or through others; an empty list when the graph has no cycle."""
    return [_one_cycle(graph, component) for component in _components(graph) if len(component) > 1]


def line_count(path: Path) -> int:
    return path.read_text(encoding="utf-8").count("\n")


# --- the package ----------------------------------------------------------------------------


def test_the_package_has_no_import_cycle():
    graph = import_graph(PACKAGE)
    tangles = [sorted(c) for c in _components(graph) if len(c) > 1]
    assert not tangles, "modules that import each other:\n" + "\n".join(
        f"{', '.join(tangle)}\n  e.g. {' -> '.join(cycle)}"
        for tangle, cycle in zip(tangles, find_cycles(graph), strict=True)
    )


@pytest.mark.parametrize("module", sorted(package_modules(PACKAGE)))
def test_no_module_is_over_550_lines(module):
    lines = line_count(package_modules(PACKAGE)[module])
    assert lines <= MAX_LINES, f"{module} has {lines} lines (at most {MAX_LINES})"


def test_the_graph_of_the_package_is_not_empty():
    # A graph that read nothing would have no cycles either.
    graph = import_graph(PACKAGE)
    assert "wagtail_member_access.access" in graph["wagtail_member_access.api"]
    assert "wagtail_member_access.conf" in graph["wagtail_member_access.access.rules"]
    assert "wagtail_member_access.access" in graph["wagtail_member_access.admin.page_access"]


# --- the graph function, on a package made for the test --------------------------------------


def make_package(root: Path, files: dict[str, str]) -> Path:
    package = root / "pkg"
    for name, source in {"__init__.py": "", **files}.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return package


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path):
    package = make_package(
        tmp_path,
        {
            "a.py": "from . import b\n",
            "b.py": "def later():\n    from .c import thing\n    return thing\n",
            "c.py": "from .a import something\nthing = 1\n",
            "d.py": "from . import a\n",
        },
    )
    graph = import_graph(package)
    assert graph == {
        "pkg": set(),
        "pkg.a": {"pkg.b"},
        "pkg.b": {"pkg.c"},
        "pkg.c": {"pkg.a"},
        "pkg.d": {"pkg.a"},
    }
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]


def test_a_package_without_a_cycle_has_none(tmp_path):
    package = make_package(
        tmp_path,
        {
            "a.py": "import os\nfrom . import b\nfrom .sub import leaf\n",
            "b.py": "def later():\n    from .sub.leaf import thing\n    return thing\n",
            "sub/__init__.py": "from .leaf import thing\n",
            "sub/leaf.py": "from ..c import VALUE\nthing = VALUE\n",
            "c.py": "VALUE = 1\n",
            "migrations/0001_initial.py": "from pkg import a\n",
        },
    )
    graph = import_graph(package)
    assert graph == {
        "pkg": set(),
        "pkg.a": {"pkg.b", "pkg.sub.leaf"},
        "pkg.b": {"pkg.sub.leaf"},
        "pkg.c": set(),
        "pkg.sub": {"pkg.sub.leaf"},
        "pkg.sub.leaf": {"pkg.c"},
    }
    assert find_cycles(graph) == []


def test_absolute_imports_and_names_of_a_package_resolve_to_its_modules(tmp_path):
    package = make_package(
        tmp_path,
        {
            "models/__init__.py": "from .lists import Grant\n",
            "models/lists.py": "import pkg.views\n",
            "views.py": "from pkg.models import Grant\n",
        },
    )
    graph = import_graph(package)
    assert graph["pkg.models.lists"] == {"pkg.views"}
    assert graph["pkg.views"] == {"pkg.models"}
    assert find_cycles(graph) == [["pkg.models", "pkg.models.lists", "pkg.views", "pkg.models"]]


def test_long_modules_are_counted_and_migrations_left_out(tmp_path):
    package = make_package(
        tmp_path, {"long.py": "x = 1\n" * 600, "migrations/0001_initial.py": "x = 1\n" * 600}
    )
    modules = package_modules(package)
    assert sorted(modules) == ["pkg", "pkg.long"]
    assert line_count(modules["pkg.long"]) == 600
