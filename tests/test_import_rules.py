"""The import rules of the architecture (ARCHITECTURE.md, issue 10), read from the source
with `ast` so they stay held:

1. Nothing in arch/, quant/, workloads/, kernels/, common/, reports/ imports `sim` — not at
   module level, not inside a function, not under `if TYPE_CHECKING`.
2. No import cycle among the imports that run when a module loads (module level, outside
   `if TYPE_CHECKING`; a package's __init__ runs before its submodules).
3. Counting every import (inside functions and TYPE_CHECKING too), the only cycles are the
   two known ones below; a new cycle fails here.
4. quant/ imports no model code: no torch, transformers, safetensors or workloads; arch/
   imports no torch.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sim", "arch", "quant", "workloads", "kernels", "common", "reports")
LOWER = ("arch", "quant", "workloads", "kernels", "common", "reports")

# Cycles only through lazy (function-level) or typing-only imports, open as of issue 10:
# - arch.pe imports Accelerator and VectorModel for annotations (TYPE_CHECKING) and
#   arch.vector inside TileModel.vector_model; arch.vector imports arch.pe.OpCost and
#   Accelerator (TYPE_CHECKING); arch.accelerator imports arch.pe.PEModel.
# (quant.olive <-> quant.qtensor was fixed: quantize_olive moved to quant.qtensor.)
KNOWN_LAZY_CYCLES = {
    frozenset({"arch.accelerator", "arch.pe", "arch.vector"}),
}


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path) -> list[tuple[str, bool]]:
    """(imported module, eager) for every import statement of module `name`."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, eager: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, False)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), False)
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), eager)
            elif isinstance(child, ast.Import):
                found.extend((a.name, eager) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    pkg = name.split(".") if is_pkg else name.split(".")[:-1]
                    pkg = pkg[: len(pkg) - (child.level - 1)]
                    base = ".".join(pkg + ([base] if base else []))
                found.append((base, eager))
                # `from pkg import sub` imports the submodule pkg.sub
                found.extend((f"{base}.{a.name}", eager) for a in child.names)
            else:
                visit(child, eager)

    visit(tree, True)
    return found


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}


def _graph(eager_only: bool) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(MODULES)
    for name, imps in IMPORTS.items():
        for target, eager in imps:
            if eager_only and not eager:
                continue
            if target in MODULES and target != name:
                g.add_edge(name, target)
                # importing a.b.c first runs a and a.b (their __init__), unless name is inside
                parts = target.split(".")
                for i in range(1, len(parts)):
                    parent = ".".join(parts[:i])
                    if parent in MODULES and not name.startswith(parent + ".") and parent != name:
                        g.add_edge(name, parent)
    return g


def test_the_source_was_read():
    # oracles for the reader itself: known imports of known modules
    assert ("sim.pipeline", True) in IMPORTS["sim.engine"]
    assert ("arch.vector", False) in IMPORTS["arch.pe"]  # TYPE_CHECKING and in a method
    assert ("arch.accelerator", False) in IMPORTS["arch.pe"]
    assert ("quant.olive", True) in IMPORTS["quant.qtensor"]  # quantize_olive lives here
    assert len([m for m in MODULES if m.startswith("arch.")]) >= 15


def test_lower_layers_never_import_sim():
    bad = [
        f"{name} imports {target}"
        for name, imps in IMPORTS.items()
        if name.split(".")[0] in LOWER
        for target, _ in imps
        if target == "sim" or target.startswith("sim.")
    ]
    assert bad == []


def test_no_cycle_among_load_time_imports():
    assert list(nx.simple_cycles(_graph(eager_only=True))) == []


def test_only_the_known_lazy_cycles():
    sccs = {frozenset(c) for c in nx.strongly_connected_components(_graph(False)) if len(c) > 1}
    assert sccs == KNOWN_LAZY_CYCLES


def _third_party(prefix: str) -> set[str]:
    return {
        target.split(".")[0]
        for name, imps in IMPORTS.items()
        if name == prefix or name.startswith(prefix + ".")
        for target, _ in imps
    }


def test_quant_imports_no_model_code_and_arch_no_torch():
    assert _third_party("quant") & {"torch", "transformers", "safetensors", "workloads"} == set()
    assert "torch" not in _third_party("arch")
    # the reader sees torch where it is used: kernels' reference GEMMs
    assert "torch" in _third_party("kernels")
