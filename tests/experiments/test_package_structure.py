"""The package's shape, read from its source with ast (nothing is imported): no import cycle among the
modules of torch_local_rnn (imports inside functions included), rules/base.py imports no other module of
rules (every rule family builds on it), no module is over 400 lines, and the modules that moved are gone."""
import ast
import os

import pytest

from helpers import ROOT

PACKAGE = "torch_local_rnn"
MAX_LINES = 400


def source_modules(root, package):
    """{dotted module name: path} of every .py file of ``package`` under ``root`` (a package by its
    __init__.py)."""
    modules = {}
    for folder, dirs, files in os.walk(os.path.join(root, package)):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__pycache__")))
        parts = os.path.relpath(folder, root).split(os.sep)
        for name in sorted(files):
            if name.endswith(".py"):
                stem = name[:-3]
                modules[".".join(parts if stem == "__init__" else parts + [stem])] = os.path.join(folder, name)
    return modules


def parse(path):
    with open(path) as f:
        return ast.parse(f.read(), path)


def bound_names(path):
    """Names a module's top level binds (definitions, assignments, imports)."""
    names = set()
    for node in parse(path).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def resolve_from(module, path, node):
    """The absolute module a ``from X import ...`` statement of ``module`` (file ``path``) names as X."""
    if node.level == 0:
        return node.module
    base = module.split(".")
    if not path.endswith("__init__.py"):
        base = base[:-1]
    if node.level > 1:
        base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module, modules):
    """The modules of ``modules`` that ``module`` imports, anywhere in its body (functions included).

    ``import a.b.c`` imports a.b.c; ``from a.b import c`` imports the module a.b.c when there is one, else
    (c a name a.b defines) the module a.b. A name that is neither a source module nor bound by a.b is a
    compiled extension (``from . import _C``) and no edge. Parent packages that Python initialises on the way
    are not counted: they are where the package's own imports start."""
    found = set()
    for node in ast.walk(parse(modules[module])):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            target = resolve_from(module, modules[module], node)
            if target not in modules:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in modules:
                    found.add(sub)
                elif alias.name == "*" or alias.name in bound_names(modules[target]):
                    found.add(target)
    found.discard(module)
    return found


def import_graph(modules):
    return {m: imports_of(m, modules) for m in modules}


def find_cycle(graph):
    """One import cycle as a list of modules (first == last), or None."""
    state = {}

    def visit(node, path):
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt, path)
                if cycle:
                    return cycle
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node, [])
            if cycle:
                return cycle
    return None


MODULES = source_modules(ROOT, PACKAGE)


def test_the_graph_is_read_right(tmp_path):
    """On a made-up package: relative imports of modules and of names, imports inside functions, a compiled
    extension, and the cycles they close."""
    files = {"pkg/__init__.py": "from ._lib import load\nfrom . import a\nX = 1\n",
             "pkg/_lib.py": "def load():\n    from . import _C\n",
             "pkg/a.py": "from . import X\n",
             "pkg/b.py": "import os\n\n\ndef f():\n    from .sub import c\n",
             "pkg/sub/__init__.py": "",
             "pkg/sub/c.py": "from .. import b\nfrom ..b import f\nimport pkg.a\n"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(source_modules(str(tmp_path), "pkg"))
    assert graph == {"pkg": {"pkg._lib", "pkg.a"}, "pkg._lib": set(), "pkg.a": {"pkg"}, "pkg.b": {"pkg.sub.c"},
                     "pkg.sub": set(), "pkg.sub.c": {"pkg.b", "pkg.a"}}
    assert find_cycle(graph) == ["pkg", "pkg.a", "pkg"]
    del graph["pkg"]
    graph["pkg.a"] = set()
    assert find_cycle(graph) == ["pkg.b", "pkg.sub.c", "pkg.b"]
    graph["pkg.sub.c"] = {"pkg.a"}
    assert find_cycle(graph) is None


def test_the_package_graph_is_read():
    graph = import_graph(MODULES)
    assert f"{PACKAGE}.rules" in graph[f"{PACKAGE}.modules"]                  # from . import init, rules
    assert f"{PACKAGE}.activation" in graph[f"{PACKAGE}.online"]              # from .activation import phi
    assert f"{PACKAGE}.rules.base" in graph[f"{PACKAGE}.rules.rflo"]          # from .base import ...
    assert f"{PACKAGE}.experiments.align" in graph[f"{PACKAGE}.__main__"]     # inside main(): from .experiments ...


def test_no_import_cycle():
    cycle = find_cycle(import_graph(MODULES))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_rules_base_imports_no_rule_family():
    base = f"{PACKAGE}.rules.base"
    imported = imports_of(base, MODULES)
    siblings = {m for m in imported if m == f"{PACKAGE}.rules" or m.startswith(f"{PACKAGE}.rules.")}
    assert not siblings, f"rules/base.py imports {sorted(siblings)}"
    families = [m for m in MODULES if m.startswith(f"{PACKAGE}.rules.") and m != base]
    assert families and all(base in imports_of(m, MODULES) for m in families)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_size(module):
    with open(MODULES[module]) as f:
        lines = sum(1 for _ in f)
    assert lines <= MAX_LINES, f"{MODULES[module]} has {lines} lines (at most {MAX_LINES})"


def test_old_modules_are_gone():
    for old in ("rules_factored", "rules_auxiliary", "reference_factored", "reference_auxiliary", "compare", "align"):
        assert f"{PACKAGE}.{old}" not in MODULES, old
    for package in ("rules", "reference", "experiments"):
        assert MODULES[f"{PACKAGE}.{package}"].endswith("__init__.py")
