"""Manifests as YAML, byte for byte as PyYAML's C emitter (libyaml) lays them out in block style, but written
directly: the layout here, each distinct string's quoting decided once by libyaml's rules. Single-line
printable strings are decided here (plain, or single-quoted); the rest, and the few plain texts that might read
back as a number or a date, go to libyaml itself, so PyYAML loads only for those. Tests hold the output to the
emitter's on every example and on thousands of odd strings. Never an anchor or alias for shared objects."""
from __future__ import annotations

import re
from typing import Any

WIDTH = 1 << 20  # no folding of long lines

_FIRST_INDICATORS = frozenset("#,[]{}&*!|>'\"%@`")  # a plain scalar cannot start with these
# YAML 1.1's implicit non-strings that start with a letter or a symbol: what PyYAML's resolver reads, and the
# y/Y/n/N booleans that Go's readers (kubectl, the API server: sigs.k8s.io/yaml on go.yaml.in/yaml/v2, its
# resolve.go `resolveMapList`) read as well
_WORDS = frozenset("yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF y Y n N "
                   "null Null NULL ~ << =".split())
# A superset of YAML 1.1's numbers and dates (int in any base, sexagesimal, float, inf, nan, timestamp): texts
# that match are checked by PyYAML's own resolver.
_MAYBE_NUMBER = re.compile(r"[-+]?(?:[0-9_:]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9_]+)?|0[xXbBoO][0-9a-fA-F_]*"
                           r"|\.(?:inf|Inf|INF|nan|NaN|NAN))\Z|[0-9]{4}-")


# Most texts of a manifest (names, base64 configs, images): one check says plain for them. A letter first, then
# none of libyaml's indicators, spaces or breaks; PyYAML reads such a text as a string unless it is one of _WORDS.
_NAME_LIKE = re.compile(r"[A-Za-z][-A-Za-z0-9_./=+]*\Z")


class _NeedsEmitter(Exception):
    """A text whose layout depends on where it stands: a line break, or a key long enough for `? key`."""


def to_yaml(objects: list) -> str:
    """YAML documents, each starting `---`."""
    out = []
    try:
        for obj in objects:
            out.append("---\n")
            if obj.__class__ is dict and obj:
                _mapping(obj, "", "", out)
            elif obj.__class__ is list and obj:
                _sequence(obj, "", "", out)
            else:
                out.append(_flow(obj) + "\n")
    except _NeedsEmitter:
        return _emit(objects)
    return "".join(out)


# What go.yaml.in/yaml/v2's resolve() (the reader under kubectl and the API server) takes for a number or a bool
# beyond YAML 1.1 as PyYAML reads it: y/n, `1e3` (its yamlStyleFloat needs no dot), `0o17` and `0X1F`
# (strconv.ParseInt with base 0, after dropping every `_`). Quoting these never changes what any reader sees.
_GO_IMPLICIT = (
    ("tag:yaml.org,2002:bool", r"^(?:y|Y|n|N)$", "yYnN"),
    ("tag:yaml.org,2002:int", r"^[-+]?0[xXoObB][0-9a-fA-F_]+$", "-+0"),
    ("tag:yaml.org,2002:float", r"^[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9_]+)?$", "-+.0123456789"),
)


def dumper() -> Any:
    """PyYAML's C dumper (libyaml) whose resolver also knows Go's readers' implicit types: the reference this
    writer matches, and what it falls back to."""
    global _DUMPER
    if _DUMPER is None:
        import yaml

        base: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

        class Dumper(base):
            def ignore_aliases(self, data) -> bool:
                return True  # objects shared in memory are written out in full

        for tag, pattern, first in _GO_IMPLICIT:
            Dumper.add_implicit_resolver(tag, re.compile(pattern), list(first))
        _DUMPER = Dumper
    return _DUMPER


def _resolved_tag(text: str) -> str:
    """The tag a plain `text` reads as, by the dumper's resolver (PyYAML's and Go's rules)."""
    import yaml

    resolver = yaml.resolver.Resolver()
    resolver.yaml_implicit_resolvers = dumper().yaml_implicit_resolvers
    return resolver.resolve(yaml.nodes.ScalarNode, text, (True, False))


_DUMPER: Any = None


def _emit(objects: list) -> str:
    import yaml

    return yaml.dump_all(objects, Dumper=dumper(), explicit_start=True, default_flow_style=False, sort_keys=False,
                         width=WIDTH, allow_unicode=True)


_KEYS: dict = {}  # string → as written as a key
_TEXTS: dict = {}  # string → as written as a value


def _key(key: str) -> str:
    text = _KEYS.get(key)
    if text is None:
        if len(key) > 120:  # libyaml writes keys over 128 characters as `? key`
            raise _NeedsEmitter
        text = _KEYS[key] = _quoted(key)
    return text


def _scalar(value: str) -> str:
    """A string as libyaml writes it as a block mapping's value, without the line break."""
    text = _TEXTS.get(value)
    if text is None:
        text = _TEXTS[value] = _quoted(value)
    return text


def _quoted(text: str) -> str:
    if _NAME_LIKE.match(text) and text not in _WORDS:
        return text
    if "\n" in text or "\r" in text or "\x85" in text or "\u2028" in text or "\u2029" in text:
        raise _NeedsEmitter
    if not _printable(text):
        return _emit([{"k": text}])[7:-1]  # double quotes and escapes: libyaml's own
    if _plain_allowed(text) and plain_is_string(text):
        return text
    return "'" + text.replace("'", "''") + "'"


def _printable(text: str) -> bool:
    """Printable both to Python and to libyaml, which counts no character beyond U+FFFF (emoji) as printable.
    (A regex of libyaml's ranges would say the same but costs milliseconds to compile.) Python is the stricter
    elsewhere (no-break spaces, private use): those texts go to libyaml, which decides as ever."""
    return text.isprintable() and (text.isascii() or max(text) <= "\uffff")


def _plain_allowed(text: str) -> bool:
    """libyaml's rules for a plain scalar in block context (one line, printable)."""
    if not text or text[0] == " " or text[-1] == " " or text[0] in _FIRST_INDICATORS:
        return False
    if text[0] in "?:-" and (len(text) == 1 or text[1] == " "):
        return False
    if text.startswith(("---", "...")) or text.endswith(":"):
        return False
    return ": " not in text and " #" not in text


def plain_is_string(text: str, _cache: dict = {}) -> bool:  # noqa: B006 - a cache shared on purpose
    """Whether `text` written plain reads back as the same string (else it must be quoted)."""
    if text in _WORDS or not text or (text.isdecimal() and text.isascii() and (text[0] != "0" or text == "0")):
        return False  # a word YAML 1.1 reads as bool or null, or a decimal integer (counts, limits)
    if not _MAYBE_NUMBER.match(text):
        return True
    known = _cache.get(text)
    if known is None:
        known = _cache[text] = _resolved_tag(text) == "tag:yaml.org,2002:str"
    return known


def _mapping(value: dict, indent: str, first: str, out: list) -> None:
    """A non-empty mapping's lines at `indent`, its first line starting with `first` if given (`- ` of the
    sequence item it is). A mapping value goes on the next lines, two deeper; a sequence value indentless."""
    start = first or indent
    for key, item in value.items():
        kind = item.__class__
        if kind is str:
            out.append(f"{start}{_KEYS.get(key) or _key(key)}: {_TEXTS.get(item) or _scalar(item)}\n")
        elif kind is dict and item:
            out.append(f"{start}{_KEYS.get(key) or _key(key)}:\n")
            _mapping(item, indent + "  ", "", out)
        elif kind is list and item:
            out.append(f"{start}{_KEYS.get(key) or _key(key)}:\n")
            _sequence(item, indent, "", out)
        else:
            out.append(f"{start}{_KEYS.get(key) or _key(key)}: {_flow(item)}\n")
        start = indent


def _sequence(items: list, indent: str, first: str, out: list) -> None:
    """A non-empty sequence's `- ` lines at `indent`, the first starting with `first` if given. A collection
    item starts on its dash's line."""
    start = first or indent
    for item in items:
        kind = item.__class__
        if kind is str:
            out.append(f"{start}- {_TEXTS.get(item) or _scalar(item)}\n")
        elif kind is dict and item:
            _mapping(item, indent + "  ", start + "- ", out)
        elif kind is list and item:
            _sequence(item, indent + "  ", start + "- ", out)
        else:
            out.append(f"{start}- {_flow(item)}\n")
        start = indent


def _flow(value) -> str:
    if value.__class__ is dict or value.__class__ is list:
        return "{}" if value.__class__ is dict else "[]"
    if value.__class__ is bool:
        return "true" if value else "false"
    if value.__class__ is int:
        return str(value)
    if value.__class__ is str:
        return _scalar(value)
    raise TypeError(f"cannot write {type(value).__name__} to a manifest")
