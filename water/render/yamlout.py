"""Manifests as YAML, byte for byte as PyYAML's C emitter (libyaml) lays them out in block style, but written
directly: the layout here, each distinct string's quoting decided once by libyaml's rules. Single-line
printable strings are decided here (plain, or single-quoted); the rest, and the few plain texts that might read
back as a number or a date, go to libyaml itself, so PyYAML loads only for those. Tests hold the output to the
emitter's on every example and on thousands of odd strings. Never an anchor or alias for shared objects."""
from __future__ import annotations

import re

WIDTH = 1 << 20  # no folding of long lines

_FIRST_INDICATORS = frozenset("#,[]{}&*!|>'\"%@`")  # a plain scalar cannot start with these
# YAML 1.1's implicit non-strings (what PyYAML's resolver reads) that start with a letter or a symbol
_WORDS = frozenset("yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF "
                   "null Null NULL ~ << =".split())
# A superset of YAML 1.1's numbers and dates (int in any base, sexagesimal, float, inf, nan, timestamp): texts
# that match are checked by PyYAML's own resolver.
_MAYBE_NUMBER = re.compile(r"[-+]?(?:[0-9_:]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|0[xb][0-9a-fA-F_]*"
                           r"|\.(?:inf|Inf|INF|nan|NaN|NAN))\Z|[0-9]{4}-")


class _NeedsEmitter(Exception):
    """A text whose layout depends on where it stands: a line break, or a key long enough for `? key`."""


def to_yaml(objects: list) -> str:
    """YAML documents, each starting `---`."""
    out = []
    try:
        for obj in objects:
            out.append("---\n")
            _write_block(obj, "", out)
    except _NeedsEmitter:
        return _emit(objects)
    return "".join(out)


def _emit(objects: list) -> str:
    """What PyYAML's C dumper writes: the reference this writer matches, and what it falls back to."""
    import yaml

    class Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
        def ignore_aliases(self, data):
            return True  # objects shared in memory are written out in full

    return yaml.dump_all(objects, Dumper=Dumper, explicit_start=True, default_flow_style=False, sort_keys=False,
                         width=WIDTH, allow_unicode=True)


def _key(key) -> str:
    if len(key) > 120:  # libyaml writes keys over 128 characters as `? key`
        raise _NeedsEmitter
    return _scalar(key)


def _scalar(value, _cache: dict = {}) -> str:  # noqa: B006 - a cache shared on purpose
    """A string as libyaml writes it as a block mapping's value, without the line break."""
    text = _cache.get(value)
    if text is None:
        text = _cache[value] = _quoted(value)
    return text


def _quoted(text: str) -> str:
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
        import yaml

        tag = yaml.resolver.Resolver().resolve(yaml.nodes.ScalarNode, text, (True, False))
        known = _cache[text] = tag == "tag:yaml.org,2002:str"
    return known


def _write_block(value, indent: str, out: list) -> None:
    """`value` (a non-empty mapping or sequence, or anything at the top) at `indent`, after a line break."""
    if value.__class__ is dict and value:
        for key, item in value.items():
            out.append(f"{indent}{_key(key)}:")
            _write_value(item, indent, out, in_mapping=True)
    elif value.__class__ is list and value:
        for item in value:
            out.append(f"{indent}-")
            _write_value(item, indent, out, in_mapping=False)
    else:
        out.append(_flow(value) + "\n")


def _write_value(item, indent: str, out: list, in_mapping: bool) -> None:
    """What follows `key:` or `-`: a scalar or empty collection on the same line; a mapping on the next lines
    indented by two (a sequence item's mapping starts on the dash's line); a sequence in a mapping indentless."""
    if item.__class__ is dict and item:
        if in_mapping:
            out.append("\n")
            _write_block(item, indent + "  ", out)
        else:
            first = True
            for key, value in item.items():
                out.append(f" {_key(key)}:" if first else f"{indent}  {_key(key)}:")
                first = False
                _write_value(value, indent + "  ", out, in_mapping=True)
    elif item.__class__ is list and item:
        if in_mapping:
            out.append("\n")
            _write_block(item, indent, out)
        else:
            out.append(" ")
            first = True
            for value in item:
                out.append("-" if first else f"{indent}  -")
                first = False
                _write_value(value, indent + "  ", out, in_mapping=False)
    else:
        out.append(f" {_flow(item)}\n")


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
