"""The code's layers point one way, read from the imports themselves:

    domain  <-  infrastructure  <-  use cases  <-  {views, actors}  <-  entry points

`messaging/` knows nothing of the app; no module imports another inside a function (the
way to hide a cycle); and there is no import cycle at all among the app's modules.
"""

import ast
import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("webapp", "workers", "messaging")

# (layer, the modules in it), the first match wins; every module must be in one.
LAYERS = (
    ("domain", ("webapp.domain", "webapp.domain.*", "webapp.simulators.population")),
    ("messaging", ("messaging", "messaging.*")),
    ("infrastructure", ("webapp.config", "webapp.clock", "webapp.xmldsig", "webapp.saml_schema", "webapp.db", "webapp.models",
                        "webapp.funnel", "webapp.keys", "webapp.logs", "webapp.metrics", "webapp.migrate",
                        "webapp.migrations.*", "webapp.once", "webapp.outbound", "webapp.outbox", "webapp.outside", "webapp.saml", "webapp.serving",
                        "webapp.signing", "webapp.qr", "webapp.tagged_pdf", "webapp.dossier_pdf", "webapp.i18n", "webapp.zgw")),
    ("use cases", ("webapp.journeys", "webapp.invitations", "webapp.privacy", "webapp.operations")),
    ("views", ("webapp.application", "webapp.desktop", "webapp.operators", "webapp.phone",
               "webapp.saml_views",
               "webapp.pwa", "webapp.live", "webapp.commands",
               "webapp.health", "webapp.dev", "webapp.acceptance", "webapp.binding", "webapp.pages",
               "webapp.errors", "webapp.security", "webapp.ratelimit", "webapp.simulators",
               "webapp.simulators.*")),
    ("actors", ("workers.actors", "workers.deadletters")),
    ("entry points", ("webapp", "webapp.__main__", "webapp.release", "workers", "workers.clock", "wsgi")),
)
BELOW_USE_CASES = {"domain", "messaging", "infrastructure"}
MAY_IMPORT = {
    "domain": {"domain"},
    "messaging": {"messaging"},
    "infrastructure": {"domain", "messaging", "infrastructure"},
    "use cases": BELOW_USE_CASES | {"use cases"},
    "views": BELOW_USE_CASES | {"use cases", "views"},
    "actors": BELOW_USE_CASES | {"use cases", "actors"},
    "entry points": {layer for layer, _ in LAYERS},
}


def find_modules(root):
    """{dotted name: path} of every module of the app below `root`."""
    found = {}
    for path in [*(p for package in PACKAGES for p in (root / package).rglob("*.py")),
                 *root.glob("wsgi.py")]:
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(name, path, known):
    """[(imported module, line, inside a function)] for every import of an app module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                       ast.Lambda))
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[:len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                           for alias in child.names]
            else:
                visit(child, nested)
                continue
            for target in targets:
                while target and target not in known and "." in target:
                    target = target.rpartition(".")[0]  # `import a.b.c`: the deepest app module
                if target in known:
                    found.append((target, child.lineno, in_function))
    visit(tree, False)
    return found


def layer_of(name):
    return next((layer for layer, patterns in LAYERS
                 if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)), None)


def import_graph(root):
    modules = find_modules(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def layer_violations(graph):
    return [f"{name} ({layer_of(name)}) imports {target} ({layer_of(target)}), line {line}"
            for name, imports in graph.items() for target, line, _ in imports
            if layer_of(target) not in MAY_IMPORT.get(layer_of(name), ())]


def imports_in_functions(graph):
    return [f"{name} imports {target} inside a function, line {line}"
            for name, imports in graph.items() for target, line, in_function in imports if in_function]


def cycles(graph):
    """The strongly connected groups of more than one module (Tarjan), and self-imports."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def connect(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target, _, _ in graph.get(node, ()):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1 or any(target == node for target, _, _ in graph.get(node, ())):
                groups.append(sorted(group))

    for node in graph:
        if node not in index:
            connect(node)
    return groups


@pytest.fixture(scope="module")
def graph():
    return import_graph(ROOT)


def test_every_module_belongs_to_a_layer(graph):
    assert [name for name in graph if layer_of(name) is None] == []


def test_each_layer_imports_only_the_layers_below_it(graph):
    assert layer_violations(graph) == []


def test_messaging_knows_nothing_of_the_app(graph):
    assert [(name, target) for name, imports in graph.items() if name.startswith("messaging")
            for target, _, _ in imports if not target.startswith("messaging")] == []


def test_no_module_imports_another_inside_a_function(graph):
    assert imports_in_functions(graph) == []


def test_there_is_no_import_cycle(graph):
    assert cycles(graph) == []


def test_the_checks_find_what_they_forbid(tmp_path):
    """A use case that imports a view, inside a function, in a cycle: all three are found."""
    (tmp_path / "webapp").mkdir()
    (tmp_path / "webapp" / "__init__.py").write_text("")
    (tmp_path / "webapp" / "desktop.py").write_text("from . import journeys\n")
    (tmp_path / "webapp" / "journeys.py").write_text(
        "def request_fetch():\n    from webapp.desktop import bp\n")
    planted = import_graph(tmp_path)
    assert layer_violations(planted) == [
        "webapp.journeys (use cases) imports webapp.desktop (views), line 2"]
    assert imports_in_functions(planted) == ["webapp.journeys imports webapp.desktop inside a function, line 2"]
    assert cycles(planted) == [["webapp.desktop", "webapp.journeys"]]
