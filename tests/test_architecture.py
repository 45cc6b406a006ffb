"""The package's layers: imports run one way, with no circle (lazy imports count).

docs/architecture.rst describes the layers; this test reads every module's
imports, those inside functions included, and fails on any circle among the
package's own modules, naming it.
"""

import ast
from pathlib import Path

import skl_sparse_ae

PACKAGE = Path(skl_sparse_ae.__file__).parent
NAME = "skl_sparse_ae"


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules():
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imported(module, path, modules):
    """The package's modules that ``module`` imports, at the top or lazily."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # `from . import _x` imports the module _x
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {name for name in found if name in modules and name != module}


def _graph():
    modules = _modules()
    return {name: _imported(name, path, modules) for name, path in modules.items()}


def _circle(graph):
    """One circle of imports, as a list of modules, or None."""
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*trail[trail.index(target) :], target]
            if target not in state:
                found = visit(target, [*trail, target])
                if found:
                    return found
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return None


def test_the_graph_reads_relative_and_lazy_imports():
    graph = _graph()
    # _objective imports the chunk passes at the top, the kernels' package
    # imports the numba kernel inside a function.
    assert f"{NAME}._chunk_passes" in graph[f"{NAME}._objective"]
    assert f"{NAME}._kernels._numba" in graph[f"{NAME}._kernels"]


def test_the_circle_finder_finds_a_circle():
    assert _circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _circle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle_in_the_package():
    circle = _circle(_graph())
    assert circle is None, "import circle: " + " -> ".join(circle)


def test_the_maths_knows_nothing_of_the_estimators():
    graph = _graph()
    maths = [
        "_array_api",
        "_buffers",
        "_parameters",
        "_base",
        "_chunk_passes",
        "_objective",
        "_network",
    ]
    estimators = {f"{NAME}.{m}" for m in ("_autoencoder", "_classifier", "_whitening")}
    for module in maths:
        reached, todo = set(), [f"{NAME}.{module}"]
        while todo:
            for target in graph[todo.pop()] - reached:
                reached.add(target)
                todo.append(target)
        assert not reached & estimators, module
        assert f"{NAME}._solvers" not in reached, module
