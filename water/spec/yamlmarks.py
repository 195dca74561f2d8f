"""YAML → plain data that remembers where each mapping, key and item stood.

YAML 1.2 core scalars only: `on`, `yes`, `no` stay strings (the `alerts.slack.on`
key must not turn into True), `1:30` is not sexagesimal, dates stay strings,
`010` is ten. Duplicate keys are problems, not silently the last one.
"""
from __future__ import annotations

import copy
import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from water.errors import Problem, SpecError
from water.spec import fastyaml
from water.spec.marked import Mark, MarkedList, MarkedMap, file_mark


class _PyParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer):
    """PyYAML's own parser and composer, in Python."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)


_Parser: type
try:
    from yaml._yaml import CParser as _Parser  # libyaml: ~10x faster on large specs
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _Parser = _PyParser


def _mark(node, lines: list | None = None) -> Mark:
    if isinstance(node, ScalarNode) and node.style in ("|", ">") and lines is not None:
        # Block text starts on the next line, at that line's indentation.
        first = node.start_mark.line + 1
        text = lines[first] if first < len(lines) else ""
        return (first + 1, len(text) - len(text.lstrip(" ")) + 1)
    if isinstance(node, ScalarNode) and node.style in ("'", '"'):
        return (node.start_mark.line + 1, node.start_mark.column + 2)  # the text starts after the quote
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _CoreResolver(yaml.resolver.BaseResolver):
    """YAML 1.2 core schema: the implicit types a Kubernetes user expects."""


_CORE = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^[-+]?[0-9]+$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", "<"),  # anchors with `<<: *defaults` keep working
]
for _tag, _regex, _first in _CORE:
    _CoreResolver.add_implicit_resolver(_tag, re.compile(_regex), list(_first))


class _AliasMarkingParser(_PyParser):
    """PyYAML's own parser, for specs with aliases: an alias becomes a copy of its anchor's node that stands where
    the alias does (libyaml's composer hands back the anchor's node itself), so a problem with what an alias
    brings in is located at the alias. Children stay shared: what the anchor holds is located in the anchor."""

    def compose_node(self, parent, index):
        alias = self.peek_event() if self.check_event(yaml.events.AliasEvent) else None
        node = super().compose_node(parent, index)
        if alias is None or node is None:
            return node
        placed = copy.copy(node)
        placed.start_mark, placed.end_mark = alias.start_mark, alias.end_mark
        return placed


class _Constructor(yaml.constructor.SafeConstructor, _CoreResolver):
    """Plain data with marks from the nodes of PARSER (the subclass's other base)."""

    PARSER: type

    def __init__(self, text: str, file: str) -> None:
        parser: Any = self.PARSER  # the parser base of this very class (its __init__ takes the text)
        parser.__init__(self, text)
        yaml.constructor.SafeConstructor.__init__(self)
        _CoreResolver.__init__(self)
        self.file = file
        self.lines = text.splitlines()
        self.problems: list[Problem] = []

    def construct_object(self, node, deep=False):
        """A node as YAML 1.2's core schema reads it; an explicit tag water does not read (`!!timestamp`), or
        that the node cannot be (`!!int x`, `!!seq x`), is a problem at the node, not a traceback."""
        why = _tag_problem(node)
        if why is None:
            try:
                return super().construct_object(node, deep)
            except (ValueError, KeyError, TypeError) as exc:
                self.recursive_objects.pop(node, None)
                why = _value_problem(node, exc)
        self.problems.append(Problem(self.file, *_mark(node), "", why))
        return None


_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "merge")}
_KINDS = {_TAG + "map": MappingNode, _TAG + "seq": SequenceNode}
CORE_TAGS = "!!str, !!int, !!float, !!bool, !!null, !!seq, !!map"


def _tag_problem(node) -> str | None:
    """Why a node's tag cannot be read, or None. Tags other than the core schema's go to PyYAML's own error."""
    tag = node.tag
    if not tag.startswith(_TAG):
        return None
    short = "!!" + tag[len(_TAG):]
    if tag in _KINDS and not isinstance(node, _KINDS[tag]):
        return f"{short} on a {'scalar' if isinstance(node, ScalarNode) else 'collection'}: it needs a " \
               f"{'mapping' if tag.endswith('map') else 'sequence'}"
    if tag in _SCALAR_TAGS and not isinstance(node, ScalarNode):
        return f"{short} on a {'mapping' if isinstance(node, MappingNode) else 'sequence'}: it needs a scalar"
    if tag not in _SCALAR_TAGS and tag not in _KINDS:
        return f"the tag {short} is not read here (YAML 1.2 core: {CORE_TAGS})"
    return None


def _value_problem(node, exc: Exception) -> str:
    text = str(node.value)
    short = "!!" + node.tag[len(_TAG):] if node.tag.startswith(_TAG) else node.tag
    if "digits" in str(exc) and text.lstrip("+-").isdigit():  # past Python's int_max_str_digits
        return f"an integer of {len(text.lstrip('+-')):,} digits is too long to read (at most 4,300)"
    shown = text if len(text) <= 40 else text[:37] + "..."
    return f"'{shown}' is not a valid {short} value"


class _Loader(_Constructor, _Parser):
    PARSER = _Parser


class _AliasLoader(_Constructor, _AliasMarkingParser):
    PARSER = _AliasMarkingParser


def _construct_map(loader: Any, node: MappingNode):
    data = MarkedMap(_mark(node))
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key_mark = _mark(key_node)
        if not isinstance(key_node, ScalarNode):
            loader.problems.append(Problem(loader.file, *key_mark, "", "a key must be a plain string"))
            continue
        key = key_node.value  # the text as written: `on` stays "on"
        if key in data:
            first = data.key_marks[key][0]
            loader.problems.append(Problem(loader.file, *key_mark, key, f"duplicate key (first at line {first})"))
            continue
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_marks[key] = key_mark
        data.value_marks[key] = _mark(value_node, loader.lines)


def _construct_list(loader: Any, node: SequenceNode):
    data = MarkedList(_mark(node))
    yield data
    for item in node.value:
        data.append(loader.construct_object(item, deep=True))
        data.item_marks.append(_mark(item, loader.lines))


def _construct_int(loader, node):
    """YAML 1.2 core integers: decimal (`010` is ten), `0o17`, `0x1F`."""
    text = loader.construct_scalar(node)
    sign, digits = (text[0], text[1:]) if text[:1] in "+-" else ("", text)
    base = {"0o": 8, "0x": 16}.get(digits[:2], 10)
    value = int(digits[2:] if base != 10 else digits, base)  # int() alone takes `_` and ` 1 `: YAML does not
    if not digits or not digits[2 if base != 10 else 0:].isalnum():
        raise ValueError(text)
    return -value if sign == "-" else value


_Constructor.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Constructor.add_constructor("tag:yaml.org,2002:seq", _construct_list)
_Constructor.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _count_expanded(root, file: str) -> int:
    """The values of the document once aliases are followed (the loader shares them, but every later stage walks
    them as a tree); past fastyaml.MAX_VALUES the deepest node that passes it is the problem."""
    counted: dict[int, int] = {}

    def count(node) -> int:
        if id(node) in counted:
            return counted[id(node)]
        counted[id(node)] = 0  # a recursive alias: the constructor reports it
        if isinstance(node, ScalarNode):
            total = 1
        elif isinstance(node, SequenceNode):
            total = 1 + sum(count(item) for item in node.value)
        else:
            total = 1 + sum(count(value) for _, value in node.value)  # a key rides with its value, as in ryml
        if total > fastyaml.MAX_VALUES:
            raise SpecError([Problem(file, *_mark(node), "", f"aliases expand this to more than "
                                     f"{fastyaml.MAX_VALUES:,} values")])
        counted[id(node)] = total
        return total

    return count(root)


def _code(character) -> int:
    return character if isinstance(character, int) else ord(character)  # libyaml gives the number


# what libyaml was reading when it gave up, where that began (its context mark) being the mistake: the '{' or '['
# never closed, the key never followed by ':', the quote never closed (libyaml's scanner.c and parser.c contexts)
_OPENED = {"while parsing a flow mapping": "this '{' is not closed", "while parsing a flow sequence":
           "this '[' is not closed", "while scanning a quoted scalar": "this quoted text is not closed",
           "while scanning a simple key": "a key without ':' after it"}


def _mistake(exc: yaml.MarkedYAMLError, text: str) -> tuple[int, int, str]:
    """(line, column, what is wrong) of a YAML syntax error, placed where the mistake is: libyaml's problem mark
    is where it gave up, often a line or more later; its context mark is where what it could not finish began."""
    problem, context = exc.problem or "invalid YAML", exc.context or ""
    at, began = exc.problem_mark, exc.context_mark
    if at is not None and (text[at.index:at.index + 1] == "\t" or "tab character" in problem):
        return at.line + 1, at.column + 1, "a tab character: YAML indents with spaces, never tabs"
    later = f" (line {at.line + 1}, column {at.column + 1})" if at is not None else ""
    if began is not None and context in _OPENED:
        return began.line + 1, began.column + 1, f"{_OPENED[context]}: {problem}{later}"
    if at is None:
        return 1, 1, problem
    quote = _unclosed_quote(text, began.line if began is not None else 0, at.line)
    if quote is not None:
        return quote[0] + 1, quote[1] + 1, (f"this quoted text is not closed on its line: YAML read it on to "
                                            f"line {at.line + 1}, column {at.column + 1}, and then {problem}")
    return at.line + 1, at.column + 1, problem


def _unclosed_quote(text: str, first: int, last: int) -> tuple[int, int] | None:
    """(line, column) of the first quote left open on its line among lines first..last (0-based) — a missing
    closing quote makes YAML read the next lines as the quoted text's."""
    for number, line in enumerate(text.splitlines()[first:last + 1], first):
        body = line.split(" #", 1)[0]
        for quote in ('"', "'"):
            count = body.count(quote) - (body.count('\\"') if quote == '"' else 2 * body.count("''"))
            if count % 2:
                return number, body.index(quote)
    return None


def load(text: str, file: str) -> Any:
    """Parse one YAML document; raise SpecError with located problems."""
    loader = (_AliasLoader if fastyaml.may_have_anchors(text) else _Loader)(text, file)
    try:
        node = loader.get_single_node()
        if node is not None and fastyaml.may_have_anchors(text):
            _count_expanded(node, file)
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:
        raise SpecError([Problem(file, 1, 1, "", "YAML nested too deeply to read")]) from None
    except yaml.MarkedYAMLError as exc:
        line, col, reason = _mistake(exc, text)
        raise SpecError([Problem(file, line, col, "", f"YAML syntax error: {reason}")]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, e.g. a NUL
        line, col = file_mark(text, exc.position)
        raise SpecError([Problem(file, line, col, "", f"YAML error: unacceptable character "
                                 f"U+{_code(exc.character):04X}: {exc.reason}")]) from None
    finally:
        loader.dispose()
    if loader.problems:
        raise SpecError(loader.problems)
    return data
