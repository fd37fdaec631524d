"""How tinylab's modules import each other: no module takes another's private names, no cycles.

A leading underscore marks a name as its module's own business (issue 13, "one home for each
idea"): a helper another module needs is made public where its idea lives, and a check that
two modules share lives in one of them. Private *modules* (``tinylab/_tensorflow.py``,
``tinylab/widgets/_panel.py``) are fine to import, for their public names; dunder names are
fine. Both tests read the source with :mod:`ast`, and import nothing of tinylab.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tinylab"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict:
    """{module name: (path, parsed tree)} for every tinylab/**/*.py."""
    return {_module_name(path): (path, ast.parse(path.read_text(), str(path)))
            for path in sorted(PACKAGE.rglob("*.py"))}


MODULES = _sources()


def _is_package(module: str) -> bool:
    return module in MODULES and MODULES[module][0].name == "__init__.py"


def _imported_module(importer: str, node: ast.ImportFrom) -> str | None:
    """The tinylab module a ``from ... import`` reads from, or None if it is not tinylab's."""
    if node.level == 0:
        return node.module if node.module and node.module.split(".")[0] == "tinylab" else None
    base = importer.split(".")
    if not _is_package(importer):
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + (node.module.split(".") if node.module else []))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_module(name: str) -> bool:
    return name in MODULES


def _module_aliases(importer: str, tree) -> dict:
    """{local name: tinylab module} for every module a file binds to a name, at any depth."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "tinylab":
                    if alias.asname:
                        aliases[alias.asname] = alias.name
                    else:
                        aliases["tinylab"] = "tinylab"
        elif isinstance(node, ast.ImportFrom):
            source = _imported_module(importer, node)
            for alias in node.names if source else ():
                if _is_module(f"{source}.{alias.name}"):
                    aliases[alias.asname or alias.name] = f"{source}.{alias.name}"
    return aliases


def _dotted_module(node, aliases: dict) -> str | None:
    """The tinylab module an expression such as ``tl.pipeline`` names, or None."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute):
        parent = _dotted_module(node.value, aliases)
        if parent is not None and _is_module(f"{parent}.{node.attr}"):
            return f"{parent}.{node.attr}"
    return None


def _foreign_private_names(importer: str, path: Path, tree) -> list:
    found = []
    aliases = _module_aliases(importer, tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _imported_module(importer, node)
            for alias in node.names if source and source != importer else ():
                if _private(alias.name) and not _is_module(f"{source}.{alias.name}"):
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: "
                                 f"from {source} import {alias.name}")
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            owner = _dotted_module(node.value, aliases)
            if owner is not None and owner != importer \
                    and not _is_module(f"{owner}.{node.attr}"):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: "
                             f"{owner}.{node.attr}")
    return sorted(found, key=lambda line: int(line.split(":")[1]))


def test_no_module_uses_another_modules_private_names():
    found = [line for module, (path, tree) in MODULES.items()
             for line in _foreign_private_names(module, path, tree)]
    assert not found, ("these use another tinylab module's underscore names; make the name "
                       "public where its idea lives, or move it:\n" + "\n".join(found))


def test_the_private_name_check_catches_both_forms():
    """The check itself, on a made-up module: both forms are caught, the fine ones are not."""
    source = ("from . import pipeline, _tensorflow\n"
              "from .prune import _check_fraction, relative_indices\n"
              "from ._tensorflow import keras\n"
              "import tinylab as tl\n"
              "def f(model):\n"
              "    from . import train as training\n"
              "    training._card_for(model)\n"
              "    tl.quantize._check_bits(4)\n"
              "    model._private, pipeline.__doc__, _tensorflow.keras\n"
              "    return _own()\n")
    found = _foreign_private_names("tinylab.example", PACKAGE / "example.py", ast.parse(source))
    assert found == ["tinylab/example.py:2: from tinylab.prune import _check_fraction",
                     "tinylab/example.py:7: tinylab.train._card_for",
                     "tinylab/example.py:8: tinylab.quantize._check_bits"]


# --------------------------------------------------------------------------- import cycles

def _top_level(body):
    """The statements run when a module is imported: not those inside functions, nor those
    under ``if TYPE_CHECKING:``."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from _top_level(node.orelse)
            continue
        yield node
        for field in ("body", "orelse", "finalbody", "handlers"):
            inner = getattr(node, field, None)
            if isinstance(inner, list):
                yield from _top_level(inner)


def _import_graph() -> dict:
    """{module: {imported tinylab module: line}} over module-level imports only."""
    graph = {}
    for module, (path, tree) in MODULES.items():
        edges = graph.setdefault(module, {})
        for node in _top_level(tree.body):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names
                           if alias.name.split(".")[0] == "tinylab"]
            elif isinstance(node, ast.ImportFrom):
                source = _imported_module(module, node)
                if source is not None:
                    targets = [f"{source}.{alias.name}"
                               if _is_module(f"{source}.{alias.name}") else source
                               for alias in node.names]
            for target in targets:
                if target in MODULES and target != module:
                    edges.setdefault(target, node.lineno)
    return graph


def _cycles(graph: dict) -> list:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def _describe(component: list, graph: dict) -> str:
    edges = [f"{source} -> {target} (line {line})" for source in component
             for target, line in sorted(graph[source].items()) if target in component]
    return ", ".join(edges)


def test_the_cycle_check_finds_a_cycle():
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _describe(["a", "b", "c"], graph) == "a -> b (line 1), b -> c (line 2), c -> a (line 3)"
    assert _cycles({"a": {"b": 1}, "b": {}}) == []


def test_no_import_cycle_among_tinylab_modules():
    """Imports inside functions are deliberate lazy imports and break no cycle at import time,
    so only module-level imports count."""
    graph = _import_graph()
    cycles = _cycles(graph)
    assert not cycles, "module-level import cycles:\n" + "\n".join(
        _describe(component, graph) for component in cycles)
