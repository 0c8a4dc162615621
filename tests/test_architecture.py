"""The package graph: imports run one way (docs/architecture.md), with one allowed exception.

Every ``import`` in zoforge is read from the source (module level and inside functions alike). Each
edge between two of zoforge's packages must point down the layer order below; the one upward
reference allowed is a spec's lazy ``create()`` that builds its gateware (golden -> gen).
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "zoforge"

#: Lower numbers are lower layers; a package may import only its own layer's peers below it or
#: lower layers. Top-level helper modules (errors, atomic, tools, metrics, progress) sit below all.
LAYERS = {
    "errors": 0, "atomic": 0, "tools": 0, "metrics": 0, "progress": 0, "limits": 0, "runlock": 0,
    "golden": 1,
    "gen": 2, "npu": 2,
    "sim": 3, "synth": 3,
    "boards": 4,
    "device": 5, "host": 5,
    "sweep": 6,
    "quickstart": 7, "cli": 8, "__main__": 9,
}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: pathlib.Path):
    """(imported module, name of the enclosing function or None) for every import in the file."""
    module = _module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    tree = ast.parse(path.read_text(), str(path))

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, function
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package[:len(package) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if child.module is None:               # from . import a, b: each is a module
                    for alias in child.names:
                        yield f"{target}.{alias.name}", function
                else:
                    yield target, function
            yield from visit(child, name)

    yield from visit(tree, None)


def _edges():
    for path in sorted(ROOT.rglob("*.py")):
        source = _package(_module_name(path)) or path.stem
        for target, function in _imports(path):
            if not target.startswith("zoforge"):
                continue
            dest = _package(target)
            if dest and dest != source:
                yield path.relative_to(ROOT.parent), source, dest, function


def test_every_package_has_a_layer():
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in ROOT.glob("*.py") if p.stem != "__init__"}
    assert packages | modules <= set(LAYERS), f"add to LAYERS: {sorted((packages | modules) - set(LAYERS))}"


def test_imports_run_one_way():
    upward = [f"{path}: {src} -> {dst}" + (f" (in {fn})" if fn else "")
              for path, src, dst, fn in _edges()
              if LAYERS[dst] > LAYERS[src] and not (src == "golden" and dst == "gen" and fn == "create")]
    assert not upward, "imports that run back up:\n" + "\n".join(upward)


def test_no_cycles_between_packages():
    graph: dict[str, set[str]] = {}
    for _, src, dst, fn in _edges():
        if src == "golden" and dst == "gen" and fn == "create":
            continue
        graph.setdefault(src, set()).add(dst)
    state: dict[str, int] = {}

    def walk(node, trail):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                pytest.fail("package cycle: " + " -> ".join(trail[trail.index(nxt):] + [nxt]))
            if not state.get(nxt):
                walk(nxt, trail + [nxt])
        state[node] = 2

    for node in list(graph):
        if not state.get(node):
            walk(node, [node])


def test_importing_zoforge_leaves_the_environment_alone(tmp_path):
    import os
    import subprocess
    import sys
    code = ("import os, pkgutil, importlib, zoforge; before = dict(os.environ)\n"
            "for m in pkgutil.walk_packages(zoforge.__path__, 'zoforge.'):\n"
            "    m.name.endswith('__main__') or importlib.import_module(m.name)\n"
            "print(sorted(set(os.environ.items()) ^ set(before.items())))")
    env = {k: v for k, v in os.environ.items() if k != "AMARANTH_USE_YOSYS"}
    env["PYTHONPATH"] = str(ROOT.parent)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
