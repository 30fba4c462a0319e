"""Reading the Bicep under infra/ with the real Bicep grammar (`tree-sitter-bicep` from PyPI).

No Bicep compiler runs here, so the infra tests read the files through the tree-sitter grammar of the
language: syntax errors show up as ERROR or MISSING nodes, and declarations (parameters, resources,
modules) come out of the tree instead of out of regular expressions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import tree_sitter
import tree_sitter_bicep

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))

_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_bicep.language()))


def parse(source: str | bytes) -> tree_sitter.Tree:
    return _PARSER.parse(source.encode() if isinstance(source, str) else source)


@cache
def parse_file(path: Path) -> tree_sitter.Tree:
    return parse(path.read_bytes())


def walk(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def syntax_problems(tree: tree_sitter.Tree) -> list[str]:
    """`line:column: what` for each ERROR or MISSING node (the parser's error recovery)."""
    problems = []
    for node in walk(tree.root_node):
        line, column = node.start_point[0] + 1, node.start_point[1] + 1
        if node.is_missing:
            problems.append(f"{line}:{column}: missing {node.type!r}")
        elif node.type == "ERROR":
            text = node.text.decode(errors="replace").splitlines()[0][:60] if node.text else ""
            problems.append(f"{line}:{column}: cannot parse {text!r}")
    return problems


def text(node: tree_sitter.Node) -> str:
    return node.text.decode() if node.text else ""


def string_value(node: tree_sitter.Node) -> str | None:
    """The value of a string literal without interpolation, else None."""
    if node.type != "string" or any(child.type == "interpolation" for child in node.children):
        return None
    return "".join(text(child) for child in node.children if child.type == "string_content")


def string_literals(tree: tree_sitter.Tree) -> list[str]:
    """Every string's literal parts (interpolated strings contribute the text between `${...}`)."""
    return [
        "".join(text(c) for c in node.children if c.type == "string_content")
        for node in walk(tree.root_node)
        if node.type == "string"
    ]


@dataclass(frozen=True)
class Parameter:
    name: str
    required: bool  # no default value and not a nullable type


def parameters(tree: tree_sitter.Tree) -> dict[str, Parameter]:
    found = {}
    for node in tree.root_node.children:
        if node.type != "parameter_declaration":
            continue
        name = next(text(c) for c in node.children if c.type == "identifier")
        has_default = any(c.type == "=" for c in node.children)
        nullable = any(c.type == "type" and text(c).endswith("?") for c in node.children)
        found[name] = Parameter(name, required=not (has_default or nullable))
    return found


@dataclass(frozen=True)
class ModuleCall:
    name: str
    source: str
    line: int
    params: frozenset[str]


def _body_object(declaration: tree_sitter.Node) -> tree_sitter.Node | None:
    """The `{...}` of a declaration, also inside `if (...) {...}` and `[for ...: {...}]`."""
    after_equals = False
    for child in declaration.children:
        if child.type == "=":
            after_equals = True
        elif after_equals:
            if child.type == "object":
                return child
            return next((n for n in walk(child) if n.type == "object"), None)
    return None


def _properties(obj: tree_sitter.Node) -> dict[str, tree_sitter.Node]:
    found = {}
    for prop in obj.children:
        if prop.type == "object_property":
            key = prop.children[0]
            value = prop.children[-1]
            found[string_value(key) if key.type == "string" else text(key)] = value
    return found


def module_calls(tree: tree_sitter.Tree) -> list[ModuleCall]:
    calls = []
    for node in tree.root_node.children:
        if node.type != "module_declaration":
            continue
        name = next(text(c) for c in node.children if c.type == "identifier")
        source = next(string_value(c) for c in node.children if c.type == "string")
        body = _body_object(node)
        params = _properties(body).get("params") if body is not None else None
        keys = frozenset(_properties(params)) if params is not None and params.type == "object" else frozenset()
        calls.append(ModuleCall(name, source or "", node.start_point[0] + 1, keys))
    return calls


def resource_types(tree: tree_sitter.Tree) -> list[str]:
    """`Namespace/type@version` of every resource declaration, `existing` ones included."""
    found = []
    for node in walk(tree.root_node):  # nested child resources too
        if node.type == "resource_declaration":
            value = next((string_value(c) for c in node.children if c.type == "string"), None)
            if value:
                found.append(value)
    return found
