"""Reads APIM policy files the way the gateway's save-time checks would, and says what it would refuse.

Three checks, each against a table in tests/apim_reference.py:
- `expression_problems`: every `@(...)` / `@{...}` C# expression may name only the .NET types and members of
  the APIM allowed-types table. This is no C# compiler: it tokenizes an expression, follows member chains
  from what it can type (`context`, type names, casts, `new`, generic arguments, declared locals) and
  reports names that are neither allowed types, gateway types, locals nor keywords, and members outside a
  type's list. Where it cannot know a type, it says nothing.
- `forward_request_problems`: at most one forward-request per policy document, in the backend section.
- `attribute_problems`: every element is a documented policy element using only documented attributes,
  plus the documented ranges of retry and forward-request.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from tests import apim_reference as ref

# ---------------------------------------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Expression:
    where: str  # "file: element@attribute" or "file: element text"
    code: str  # the C# inside @( ) or @{ }


def policy_expressions(path: Path) -> list[Expression]:
    """Every policy expression in a policy file; a value that starts like one must be exactly one."""
    found = []
    for element in ET.parse(path).getroot().iter():
        values = [(f"{element.tag}@{name}", value) for name, value in element.attrib.items()]
        values.append((f"{element.tag} text", element.text or ""))
        for place, value in values:
            value = value.strip()
            if value.startswith(("@(", "@{")):
                end = _closing(value, 1)
                if value[end + 1 :].strip():
                    raise AssertionError(f"{path.name}: {place}: text after the expression's closing bracket")
                found.append(Expression(f"{path.name}: {place}", value[2:end]))
    return found


def _closing(text: str, open_index: int) -> int:
    """Index of the bracket closing the one at `open_index`, skipping C# strings, chars and comments."""
    depth = 0
    for token in _tokens(text[open_index:]):
        if token.text in _OPENING:
            depth += 1
        elif token.text in _CLOSING:
            depth -= 1
            if depth == 0:
                return open_index + token.start
    raise AssertionError(f"unbalanced expression: {text[:60]!r}")


@dataclass(frozen=True)
class _Token:
    kind: str  # "name", "string", "number", "op"
    text: str
    start: int


_TOKEN = re.compile(
    r"""(?P<space>\s+|//[^\n]*|/\*.*?\*/)
      |(?P<string>\$?@"(?:[^"]|"")*"|\$?"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])+')
      |(?P<number>\d[\w.]*)
      |(?P<name>@?[A-Za-z_]\w*)
      |(?P<op>\?\.|\?\?|=>|==|!=|<=|>=|&&|\|\||\+\+|--|[-+*/%]=|.)""",
    re.VERBOSE | re.DOTALL,
)


def _tokens(code: str) -> list[_Token]:
    return [_Token(m.lastgroup, m.group(), m.start()) for m in _TOKEN.finditer(code) if m.lastgroup != "space"]


_OPENING, _CLOSING = frozenset("([{"), frozenset(")]}")
_TYPE_PUNCTUATION = frozenset({".", ",", "[", "]", "?"})
_AFTER_GENERIC = frozenset({"(", ")", ",", ";", "."})
_TABLE = f"{ref.EXPRESSIONS_URL}#CLRTypes"
_KEYWORDS = frozenset(
    "var new return if else for foreach in while do out ref null true false is as this typeof default break "
    "continue switch case try catch finally throw checked unchecked nameof when".split()
)
_SHORT_NAMES = {name.rsplit(".", 1)[-1]: name for name in ref.ALLOWED_TYPES}
_NAMESPACE_ROOTS = {name.split(".", 1)[0] for name in ref.ALLOWED_TYPES}


def _members_allowed(type_name: str) -> frozenset[str] | None:
    """The members a type may use (None: all), including those its listed base types allow."""
    if type_name in ref.CONTEXT_TYPES:
        return frozenset(ref.CONTEXT_TYPES[type_name]) | ref.OBJECT_MEMBERS
    if type_name == "System.Object":
        return ref.OBJECT_MEMBERS
    if type_name == ref.DICT:
        return None
    allowed = ref.ALLOWED_TYPES.get(type_name, frozenset())
    base = ref.BASE_TYPES.get(type_name)
    if allowed is not None and base:
        base_allowed = _members_allowed(base)
        return None if base_allowed is None else allowed | base_allowed
    return allowed


def _member_type(type_name: str, member: str, generic: str | None) -> str | None:
    if member in ("GetValueOrDefault", "As") and generic:
        return generic  # Variables.GetValueOrDefault<T>, Body.As<T>
    if type_name == ref.DICT and member == "GetValueOrDefault":
        return ref.S  # documented for headers, query parameters and claims
    if type_name in ref.CONTEXT_TYPES:
        return ref.CONTEXT_TYPES[type_name].get(member)
    while type_name:
        if member in ref.MEMBER_TYPES.get(type_name, {}):
            return ref.MEMBER_TYPES[type_name][member]
        type_name = ref.BASE_TYPES.get(type_name)
    return None


@dataclass
class _Checker:
    where: str
    tokens: list[_Token]
    locals: dict[str, str | None] = field(default_factory=dict)
    problems: dict[int, str] = field(default_factory=dict)  # by token index: one report per place

    def report(self, index: int, message: str) -> None:
        self.problems.setdefault(index, f"{self.where}: {message}")

    def text(self, index: int) -> str:
        return self.tokens[index].text if 0 <= index < len(self.tokens) else ""

    def kind(self, index: int) -> str:
        return self.tokens[index].kind if 0 <= index < len(self.tokens) else ""

    def type_name_at(self, index: int) -> tuple[str | None, int]:
        """A type named at `index` (keyword, short or dotted name, gateway type): (full name, next index)."""
        first = self.text(index)
        if first in ref.TYPE_KEYWORDS:
            return ref.TYPE_KEYWORDS[first], index + 1
        if first in ref.GATEWAY_TYPE_NAMES:
            return ref.GATEWAY_TYPE_NAMES[first], index + 1
        if first in _SHORT_NAMES and first not in self.locals:
            return _SHORT_NAMES[first], index + 1
        if first in _NAMESPACE_ROOTS and first not in self.locals:
            dotted, end, best = first, index + 1, (None, index)
            while self.text(end) == "." and self.kind(end + 1) == "name":
                dotted, end = f"{dotted}.{self.text(end + 1)}", end + 2
                if dotted in ref.ALLOWED_TYPES:
                    best = (dotted, end)
            if best[0] is None:
                self.report(index, f"{dotted} names none of the allowed .NET types ({_TABLE})")
                return "?", end
            return best
        return None, index

    def generic_arguments(self, index: int) -> tuple[str | None, int]:
        """`<T, ...>` right after a member name: (first argument's type, index after `>`), else (None, index)."""
        if self.text(index) != "<":
            return None, index
        end = index + 1
        while self.text(end) not in (">", "") and (self.kind(end) == "name" or self.text(end) in _TYPE_PUNCTUATION):
            end += 1
        if self.text(end) != ">" or not (self.kind(end + 1) == "name" or self.text(end + 1) in _AFTER_GENERIC):
            return None, index  # a comparison, not generic arguments
        first, _ = self.type_name_at(index + 1)
        for position in range(index + 1, end):
            if self.kind(position) == "name" and self.text(position - 1) in ("<", ","):
                self.require_type(position)
        return first, end + 1

    def require_type(self, index: int) -> str | None:
        name, _ = self.type_name_at(index)
        if name is None:
            self.report(index, f"{self.text(index)} is not an allowed type ({_TABLE})")
        return name

    def skip_group(self, index: int) -> int:
        """Index after the bracket group opening at `index`."""
        depth = 0
        for position in range(index, len(self.tokens)):
            depth += self.text(position) in _OPENING
            depth -= self.text(position) in _CLOSING
            if depth == 0:
                return position + 1
        return len(self.tokens)

    def walk_members(self, type_name: str | None, index: int) -> tuple[str | None, int]:
        """Follow `.Member<T>(...)` and `[...]` from a value of `type_name`; report members it may not use."""
        while True:
            if self.text(index) in (".", "?.") and self.kind(index + 1) == "name":
                member = self.text(index + 1)
                if type_name not in (None, "?"):
                    allowed = _members_allowed(type_name)
                    if allowed is not None and member not in allowed:
                        self.report(index + 1, f"{type_name}.{member} is not an allowed member ({_TABLE})")
                generic, index = self.generic_arguments(index + 2)
                if self.text(index) == "(":
                    index = self.skip_group(index)
                type_name = None if type_name in (None, "?") else _member_type(type_name, member, generic)
            elif self.text(index) == "[":
                index = self.skip_group(index)
                type_name = ref.INDEXER_TYPES.get(type_name or "")
            else:
                return type_name, index

    def primary(self, index: int) -> tuple[str | None, int] | None:
        """(type, index after its member chain) of the value starting at `index`; None if none starts there."""
        token = self.tokens[index]
        if token.kind == "string":
            return self.walk_members(ref.S, index + 1)
        if token.text == "(":
            # ((T)expr).Member: the group's type is the cast's type.
            cast_type, after_cast = self.type_name_at(index + 2) if self.text(index + 1) == "(" else (None, 0)
            end = self.skip_group(index)
            if cast_type and self.text(after_cast) == ")" and self.text(end) in (".", "?."):
                return self.walk_members(cast_type, end)
            return None
        if token.kind != "name" or self.is_member_name(index):
            return None
        if token.text == "new":
            if self.text(index + 1) == "[":
                return self.walk_members("System.Array", self.skip_group(self.skip_group(index + 1)))
            created = self.require_type(index + 1)
            _, after = self.type_name_at(index + 1)
            _, after = self.generic_arguments(after)
            allowed = _members_allowed(created) if created not in (None, "?") else None
            if allowed is not None and "new" not in allowed and created not in ref.CONTEXT_TYPES:
                self.report(index + 1, f"new {created} is not allowed ({_TABLE})")
            while self.text(after) in ("(", "{"):
                after = self.skip_group(after)
            return self.walk_members(created, after)
        if token.text == "context" and "context" not in self.locals:
            return self.walk_members("context", index + 1)
        if token.text in self.locals:
            return self.walk_members(self.locals[token.text], index + 1)
        type_name, after = self.type_name_at(index)
        if type_name is not None:
            return self.walk_members(type_name, after)
        return None

    def declare(self, index: int) -> int | None:
        """Record a local declared at `index` (`var x`, `T x`, `out T x`, `x =>`); the index after its name."""
        if self.text(index + 1) == "=>" and self.kind(index) == "name":
            self.locals[self.text(index)] = None
            return index + 1
        if self.text(index) == "var" and self.kind(index + 1) == "name":
            value = self.primary(index + 3) if self.text(index + 2) == "=" else None
            # `var x = <one member chain>;` gives x that chain's type; anything else leaves it unknown.
            self.locals[self.text(index + 1)] = value[0] if value and self.text(value[1]) == ";" else None
            return index + 2
        type_name, after = self.type_name_at(index)
        if type_name:
            _, after = self.generic_arguments(after)
        while self.text(after) in ("[", "]", "?"):
            after += 1
        if type_name and self.kind(after) == "name" and self.text(after + 1) in ("=", ";", ",", ")"):
            self.locals[self.text(after)] = type_name
            return after + 1
        return None

    def run(self) -> list[str]:
        self.declare_lambda_parameters()
        index = 0
        while index < len(self.tokens):
            token = self.tokens[index]
            declared_until = self.declare(index) if token.kind == "name" else None
            if declared_until is not None:
                index = declared_until
                continue
            if token.kind == "name" and not self.is_member_name(index) and not self.is_named_argument(index):
                if self.primary(index) is None and token.text not in _KEYWORDS and token.text not in self.locals:
                    self.report(
                        index, f"{token.text} is neither an allowed type, a declared local nor `context` ({_TABLE})"
                    )
            elif token.text == "(":
                self.primary(index)
            index += 1
        return [self.problems[key] for key in sorted(self.problems)]

    def is_member_name(self, index: int) -> bool:
        return index > 0 and self.text(index - 1) in (".", "?.")

    def is_named_argument(self, index: int) -> bool:
        return self.text(index + 1) == ":" and self.text(index - 1) in ("(", ",")

    def declare_lambda_parameters(self) -> None:
        for index, token in enumerate(self.tokens):
            if token.text == "=>" and self.text(index - 1) == ")":
                position = index - 1
                while position > 0 and self.text(position) != "(":
                    position -= 1
                for inner in self.tokens[position + 1 : index - 1]:
                    if inner.kind == "name" and inner.text not in ref.TYPE_KEYWORDS:
                        self.locals[inner.text] = None


_NAMED_VALUE = re.compile(r"\{\{[\w.-]+\}\}")


def expression_problems(expression: Expression) -> list[str]:
    """What the gateway would refuse in one expression: names and members outside the allowed-types table."""
    code = _NAMED_VALUE.sub("0", expression.code)  # named values are substituted as text before compiling
    return _Checker(expression.where, _tokens(code)).run()


# ------------------------------------------------------------------------------------------ document checks


def _with_parents(root: ET.Element) -> list[tuple[ET.Element, list[ET.Element]]]:
    out, stack = [], [(root, [])]
    while stack:
        element, parents = stack.pop()
        out.append((element, parents))
        stack.extend((child, [*parents, element]) for child in reversed(list(element)))
    return out


def forward_request_problems(path: Path) -> list[str]:
    """At most one forward-request per policy document, and only in its backend section.

    The forward-request page listed "Multiple statements per policy document: not supported"; later versions
    dropped the line without allowing several. One element, reached on every path, is valid on either
    reading, so this check does not accept two even in exclusive `choose` branches.
    """
    root = ET.parse(path).getroot()
    forwards = [(element, parents) for element, parents in _with_parents(root) if element.tag == "forward-request"]
    problems = []
    if len(forwards) > 1:
        problems.append(
            f"{path.name}: {len(forwards)} forward-request elements; a policy document may hold one "
            f"({ref.POLICY_ATTRIBUTES['forward-request'][0]})"
        )
    for _, parents in forwards:
        if "backend" not in [parent.tag for parent in parents]:
            problems.append(f"{path.name}: forward-request outside the backend section")
    return problems


def _literal(value: str) -> bool:
    return not value.startswith("@") and "{{" not in value


def attribute_problems(path: Path) -> list[str]:
    """Elements and attributes that the policy reference pages do not list, and documented ranges broken."""
    problems = []
    for element, parents in _with_parents(ET.parse(path).getroot()):
        where = f"{path.name}: <{'/'.join([p.tag for p in parents] + [element.tag])}>"
        if element.tag not in ref.POLICY_ATTRIBUTES:
            problems.append(f"{where}: no reference page recorded for this element in tests/apim_reference.py")
            continue
        url, allowed = ref.POLICY_ATTRIBUTES[element.tag]
        for name in sorted(set(element.attrib) - allowed):
            problems.append(f"{where}: attribute {name!r} is not on its reference page ({url})")
        problems.extend(f"{where}: {problem} ({url})" for problem in _value_problems(element))
    return problems


def _value_problems(element: ET.Element) -> list[str]:
    attrs = element.attrib
    problems = []
    if element.tag == "retry":
        low, high = ref.RETRY_COUNT_RANGE
        count = attrs.get("count", "")
        if _literal(count) and not (count.isdigit() and low <= int(count) <= high):
            problems.append(f"count={count!r} must be a number from {low} to {high}")
        for name in ref.RETRY_POSITIVE_SECONDS:
            value = attrs.get(name)
            if value is not None and _literal(value) and not (value.isdigit() and int(value) > 0):
                problems.append(f"{name}={value!r} must be a positive number of seconds")
        for required in ("condition", "count", "interval"):
            if required not in attrs:
                problems.append(f"{required} is required")
    if element.tag == "forward-request":
        if attrs.get("buffer-response", "true") not in ("true", "false"):
            problems.append("buffer-response must be the literal true or false (no expressions)")
        if "timeout" in attrs and "timeout-ms" in attrs:
            problems.append("timeout and timeout-ms are exclusive")
        if attrs.get("http-version", "1") not in ref.FORWARD_REQUEST_HTTP_VERSIONS:
            problems.append(f"http-version must be one of {sorted(ref.FORWARD_REQUEST_HTTP_VERSIONS)}")
    if element.tag == "llm-emit-token-metric" and len(element.findall("dimension")) > ref.LLM_METRIC_MAX_DIMENSIONS:
        problems.append(f"more than {ref.LLM_METRIC_MAX_DIMENSIONS} dimensions")
    return problems
