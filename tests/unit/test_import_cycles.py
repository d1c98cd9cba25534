"""No import cycles, in the core or in any in-repo plugin package (ARCHITECTURE.md §2).

Imports inside `if TYPE_CHECKING:` count: a cycle through a type is still two modules that each need the other.
The packages checked are the import-linter root packages in the root pyproject.toml (the same list `lint-imports`
reads), so a new plugin is added in one place.
"""

from __future__ import annotations

import functools
import itertools
import tomllib
from collections import deque
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES: list[str] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"][
    "root_packages"
]


@functools.cache
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def strongly_connected(nodes: set[str], edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: the groups of modules that can each reach every other (a cycle when more than one)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            groups.append(group)

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return groups


def shortest_cycle(start: str, group: set[str], edges: dict[str, set[str]]) -> list[str]:
    """The shortest path of imports from `start` back to itself, inside one strongly connected group."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(edges[node] & group):
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if target not in came_from:
                came_from[target] = node
                queue.append(target)
    raise AssertionError(f"{start} is in no cycle")  # pragma: no cover - Tarjan put it in one


def describe(cycle: list[str]) -> str:
    lines = []
    for importer, imported in itertools.pairwise(cycle):
        details = graph().get_import_details(importer=importer, imported=imported)
        where = ", ".join(f"line {d['line_number']}: {d['line_contents']}" for d in details)
        lines.append(f"  {importer} -> {imported}  ({where})")
    return "\n".join(lines)


def cycles_in(package: str) -> list[list[str]]:
    modules = {m for m in graph().modules if m == package or m.startswith(f"{package}.")}
    edges = {m: graph().find_modules_directly_imported_by(m) & modules for m in modules}
    found = []
    for group in strongly_connected(modules, edges):
        if len(group) > 1 or any(m in edges[m] for m in group):
            found.append(shortest_cycle(min(group), group, edges))
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle(package: str) -> None:
    cycles = cycles_in(package)
    report = "\n\n".join(f"cycle {' -> '.join(c)}\n{describe(c)}" for c in cycles)
    assert not cycles, f"{len(cycles)} import cycle(s) in {package}:\n\n{report}"


def test_the_check_finds_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    groups = strongly_connected(set(edges), edges)
    assert sorted(sorted(g) for g in groups if len(g) > 1 or next(iter(g)) in edges[next(iter(g))]) == [
        ["a", "b", "c"],
        ["e"],
    ]
    assert shortest_cycle("a", {"a", "b", "c"}, edges) == ["a", "b", "c", "a"]


def test_the_contracts_cover_every_in_repo_plugin_package() -> None:
    plugins = sorted(
        package
        for parent in ("plugins", "venue_plugins")
        for project in sorted((ROOT / parent).glob("*/pyproject.toml"))
        if not project.parent.name.startswith("_")  # the template is not installed
        for package in tomllib.loads(project.read_text(encoding="utf-8"))["tool"]["hatch"]["build"]["targets"]["wheel"][
            "packages"
        ]
    )
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    contracts = {c["id"]: c for c in settings["contracts"]}
    assert sorted(PACKAGES) == sorted(["fundarb_core", *plugins])
    assert sorted(contracts["core-imports-no-plugin"]["forbidden_modules"]) == plugins
    assert sorted(contracts["plugins-import-no-private-core"]["source_modules"]) == plugins
