"""Import cycles in the product: ``python -m malote_dev.tools.import_cycles`` (``make layers``).

Counts the cycles among the product's modules (tests left out), at module level and between apps,
with one example path each; exits 1 when there is any. Imports inside functions count too: a cycle
hidden in a function is still a cycle.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import grimp


def strongly_connected(nodes: Iterable[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components of more than one node (each is at least one cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return found


def product_edges(graph: grimp.ImportGraph, depth: int | None) -> dict[str, set[str]]:
    """Imports between product modules (``depth`` 2 folds them into apps: ``malote.orders``)."""

    def name(module: str) -> str:
        return ".".join(module.split(".")[:depth]) if depth else module

    def product(module: str) -> bool:
        parts = module.split(".")
        return "tests" not in parts and module != "malote.conftest"

    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        if not product(module):
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            if product(imported) and imported.startswith("malote.") and name(imported) != name(module):
                edges.setdefault(name(module), set()).add(name(imported))
    return edges


def main() -> int:
    graph = grimp.build_graph("malote")
    total = 0
    for label, depth in (("modules", None), ("apps", 2)):
        edges = product_edges(graph, depth)
        cycles = strongly_connected(edges, edges)
        total += len(cycles)
        print(f"import cycles between {label}: {len(cycles)}")
        for members in cycles:
            print("  " + " <-> ".join(members))
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
