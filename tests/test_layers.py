"""The import rules of the four packages, read from their source with ``ast`` (nothing is imported).

Layers, lowest first: restore_core <- search_spaces <- analysis <- sweeps. A package imports only those below it;
restore_core, search_spaces and analysis import no Ray; no two files, packages or sub-packages import each other,
directly or round a longer loop; an import inside a function is never of a project module, and one of another
package says why in a comment on its line (a heavy dependency that only that path needs); Ray's private APIs are
used in sweeps/ray_private/ only.
"""

from __future__ import annotations

import ast
import os
from collections import defaultdict

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = ("restore_core", "search_spaces", "analysis", "sweeps")
WITHOUT_RAY = ("restore_core", "search_spaces", "analysis")
RAY_PRIVATE_HOME = "sweeps.ray_private"  # the one package that may use Ray's private APIs
# Underscored attributes of Ray's objects the project reads (ASHA's bracket, its scheduler), and Ray's snapshot file
RAY_INTERNALS = ("_rungs", "_trial_info", "_num_stopped", "_metric_op", "_time_attr", "_metric", "_brackets",
                 "_ot_trials", "_completed_trials", "_trial_id_to_group")
RAY_SNAPSHOT = "experiment_state-"
# The project modules imported inside a function, each for the heavy dependency it imports at its top (a sampled
# search alone needs Optuna and Ray's wrapper of it, which take a second to import); the cycle test counts them too.
DEFERRED_PROJECT_MODULES = {"sweeps.driver.optuna_live": "Optuna", "analysis.outputs": "SciPy's statistics and Plotly",
                            "sweeps.api": "the driver, and through the tables SciPy and Plotly (not in a Ray worker)"}


def project_modules() -> dict[str, str]:
    """Every module of the four packages, by dotted name, with its file."""
    modules = {}
    for package in LAYERS:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    dotted = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    modules[dotted.removesuffix(".__init__")] = path
    return modules


MODULES = project_modules()


class Import:
    """One import statement's target, as the module it names (``a.b`` of ``from a.b import c`` unless ``a.b.c`` is a
    module), where it is, and whether it sits inside a function."""

    def __init__(self, module: str, target: str, line: int, in_function: bool, comment: str):
        self.module, self.target, self.line, self.in_function, self.comment = module, target, line, in_function, comment

    @property
    def where(self) -> str:
        return f"{os.path.relpath(MODULES[self.module], ROOT)}:{self.line}"

    @property
    def project(self) -> str | None:
        """The project module the import loads (the nearest enclosing one that exists), or None: another package."""
        name = self.target
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        return name if name.split(".")[0] in LAYERS else None


def imports_of(module: str) -> list[Import]:
    path = MODULES[module]
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    lines = source.splitlines()
    tree = ast.parse(source, path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            targets = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join(parts + ([child.module] if child.module else []))
                targets = [f"{base}.{alias.name}" for alias in child.names]
            for target in targets:
                text = lines[child.lineno - 1]
                comment = text.split("#", 1)[1].strip() if "#" in text else ""
                found.append(Import(module, target, child.lineno, inside, comment))
            visit(child, inside)

    visit(tree, False)
    return found


IMPORTS = {module: imports_of(module) for module in sorted(MODULES)}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(set(edges) | {o for targets in edges.values() for o in targets}):
        if node not in index:
            connect(node)
    return found


def module_edges(depth: int | None) -> dict[str, set[str]]:
    """Who imports whom, by module (``depth`` None) or by the first ``depth`` parts of the names (packages and
    sub-packages); a module importing its own package's ``__init__`` at that depth is no edge."""
    edges: dict[str, set[str]] = defaultdict(set)
    for module, found in IMPORTS.items():
        for statement in found:
            target = statement.project
            if target is None:
                continue
            a = module if depth is None else ".".join(module.split(".")[:depth])
            b = target if depth is None else ".".join(target.split(".")[:depth])
            if a != b:
                edges[a].add(b)
    return edges


def test_the_reader_finds_the_imports_it_checks():
    """The rules below read what this finds: a known import at the top of a file and one inside a function."""
    loop = {(i.project, i.in_function) for i in IMPORTS["restore_core.loop"]}
    assert ("restore_core.schema", False) in loop
    assert any(i.target == "torch.utils.tensorboard.SummaryWriter" and i.in_function
               for i in IMPORTS["restore_core.tb_log"])
    assert len(MODULES) > 100 and all(name.split(".")[0] in LAYERS for name in MODULES)


@pytest.mark.parametrize("package", LAYERS)
def test_a_package_imports_only_the_layers_below_it(package):
    allowed = set(LAYERS[: LAYERS.index(package) + 1])
    wrong = [f"{i.where}: {i.target}" for module, found in IMPORTS.items() if module.split(".")[0] == package
             for i in found if i.project and i.project.split(".")[0] not in allowed]
    assert not wrong, f"{package} may import only {', '.join(sorted(allowed))}: " + "; ".join(wrong)


@pytest.mark.parametrize("package", WITHOUT_RAY)
def test_only_the_driver_imports_ray(package):
    wrong = [f"{i.where}: {i.target}" for module, found in IMPORTS.items() if module.split(".")[0] == package
             for i in found if i.target.split(".")[0] == "ray"]
    assert not wrong, f"{package} imports Ray; only sweeps does: " + "; ".join(wrong)


@pytest.mark.parametrize("depth", [None, 1, 2], ids=["files", "packages", "sub-packages"])
def test_no_import_cycles(depth):
    found = cycles(module_edges(depth))
    assert not found, "these import each other, directly or round a loop: " + "; ".join(map(", ".join, found))


def test_the_cycle_finder_finds_a_loop():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_imports_inside_functions_are_of_heavy_dependencies_and_say_so():
    project = [f"{i.where}: {i.target}" for found in IMPORTS.values() for i in found
               if i.in_function and i.project and i.project not in DEFERRED_PROJECT_MODULES]
    assert not project, "import project modules at the top of the file (an import inside a function hides a cycle): " \
        + "; ".join(project)
    silent = [f"{i.where}: {i.target}" for found in IMPORTS.values() for i in found
              if i.in_function and not i.comment]
    assert not silent, "an import inside a function needs a comment on its line saying why it is deferred: " \
        + "; ".join(silent)


def test_rays_private_apis_are_used_in_one_module():
    wrong = []
    for module, path in MODULES.items():
        if module == RAY_PRIVATE_HOME or module.startswith(RAY_PRIVATE_HOME + "."):
            continue
        wrong += [f"{i.where}: imports {i.target}" for i in IMPORTS[module]
                  if i.target.split(".")[0] == "ray" and any(part.startswith("_") for part in i.target.split("."))]
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)  # prose may name Ray's files
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in RAY_INTERNALS:
                wrong.append(f"{os.path.relpath(path, ROOT)}:{node.lineno}: reads .{node.attr}")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and RAY_SNAPSHOT in node.value \
                    and id(node) not in docstrings:
                wrong.append(f"{os.path.relpath(path, ROOT)}:{node.lineno}: reads Ray's {RAY_SNAPSHOT}*.json")
    assert not wrong, "Ray's private APIs belong in sweeps/ray_private/ (one function each, saying which public " \
        "API is missing): " + "; ".join(wrong)
    home = {i.target for module in MODULES if module.startswith(RAY_PRIVATE_HOME + ".") for i in IMPORTS[module]}
    assert any(target.startswith("ray._private") for target in home)  # the check above looks where they are
