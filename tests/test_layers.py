"""The house rules, checked from the source: layers point one way and no module imports itself back.

Every import counts: top-level, inside a function (lazy) and under ``if TYPE_CHECKING``. A module or
package of ``kernel/`` may import only from its own layer or the layers below it (see LAYERS and the
README's architecture section), and the import graph has no cycle except the one documented in
``kernel/blobs/__init__.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

KERNEL = Path(__file__).resolve().parents[1] / "kernel"

# Bottom to top. A top-level module or subpackage of llmos sits in exactly one layer.
LAYERS: list[tuple[str, set[str]]] = [
    ("ground", {"errors", "plugins", "atomic", "procs", "halt", "scrub"}),
    ("formats", {"docs", "goals", "prompts", "agents", "compat", "traces", "toolapi"}),
    ("stores", {"root", "audit", "blobs", "budget", "vault"}),
    ("calls", {"backends", "syscalls"}),
    ("run", {"loop", "compact", "memory", "team", "modes", "toolbelt"}),
    ("upkeep", {"dream", "sync"}),
    ("config", {"config"}),
    ("spine", {"live", "kernel", "doctor", "checks", "fleet", "agentimport"}),
    ("services", {"serve"}),  # llmos serve / mcp: MCP server, scheduler, dashboard (over the kernel)
    ("clients", {"cli", "__main__", "__init__"}),
]
# The one cycle there is: the BlobStore facade lazily calls check/gc/repack/dicts, which name the
# store's type under TYPE_CHECKING only (kernel/blobs/__init__.py says why).
ALLOWED_CYCLES = [
    {"llmos.blobs.check", "llmos.blobs.dicts", "llmos.blobs.gc", "llmos.blobs.repack", "llmos.blobs.store"}
]


def module_name(path: Path) -> str:
    parts = ["llmos", *path.relative_to(KERNEL).with_suffix("").parts]
    return ".".join(parts[:-1]) if parts[-1] == "__init__" else ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """Every llmos module -> the llmos modules it imports (any import statement anywhere in it)."""
    modules = {module_name(p): p for p in KERNEL.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    graph[name].add(full if full in modules else target)
            elif isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names)
    return {m: {t for t in targets if t in modules and t != m} for m, targets in graph.items()}


def unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer_of(module: str) -> int:
    u = unit(module)
    for rank, (_, members) in enumerate(LAYERS):
        if u in members:
            return rank
    raise AssertionError(f"{module} is in no layer: add kernel/{u} to LAYERS in tests/test_layers.py")


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = set()
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        comp.add(top)
                        if top == node:
                            break
                    if len(comp) > 1:
                        found.append(comp)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_every_module_has_a_layer():
    for module in import_graph():
        layer_of(module)


def test_imports_point_down_or_sideways():
    upward = [
        f"{a} ({LAYERS[layer_of(a)][0]}) imports {b} ({LAYERS[layer_of(b)][0]})"
        for a, targets in import_graph().items()
        for b in sorted(targets)
        if layer_of(b) > layer_of(a)
    ]
    assert upward == [], "\n".join(upward)


def test_no_import_cycle_but_the_documented_one():
    found = [c for c in cycles(import_graph()) if c not in ALLOWED_CYCLES]
    assert found == [], found


def test_the_checker_sees_a_cycle_and_an_upward_import():
    """The checks above can fail: a made-up graph with both defects is caught."""
    graph = {"llmos.errors": {"llmos.kernel"}, "llmos.kernel": {"llmos.loop"}, "llmos.loop": {"llmos.kernel"}}
    assert cycles(graph) == [{"llmos.kernel", "llmos.loop"}]
    assert layer_of("llmos.kernel") > layer_of("llmos.errors")  # so errors -> kernel is upward
