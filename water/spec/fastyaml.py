"""The fast path for reading a spec: rapidyaml (C++) parses, this walks its tree into
the same plain data the marked loader gives, with the same YAML 1.2 core scalars.

It has no line marks, so it is only for specs that turn out valid. Anything unusual
(tags, several documents, a duplicate key, a parse error) returns None, and every
problem found later is re-reported through the marked loader, which locates it.
"""
from __future__ import annotations

import re

_TAG = re.compile(r"(?:^|[\s\[{,:-])!", re.M)  # an explicit tag: the marked loader decides
_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|"
                    r"\.(?:nan|NaN|NAN))$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULL = {"~", "null", "Null", "NULL", ""}


class _Unusual(Exception):
    pass


def _plain(text: str):
    if text in _BOOL:
        return _BOOL[text]
    if text in _NULL:
        return None
    if _INT.match(text):
        return int(text, 10)
    if _FLOAT.match(text):
        return float(text)
    return text


def load(text: str):
    """Plain data of a one-document YAML text, or None where the marked loader must decide."""
    if _TAG.search(text):
        return None
    try:
        import ryml
    except ImportError:  # pragma: no cover - rapidyaml is a dependency; still work without it
        return None
    try:
        tree = ryml.parse_in_arena(text.encode())
        tree.resolve()  # anchors, aliases and << merges
        root = tree.root_id()
        if tree.is_stream(root):
            if tree.num_children(root) != 1:
                return None
            root = tree.first_child(root)
        return _walk(tree, ryml.NONE)(root)
    except (_Unusual, RuntimeError, UnicodeDecodeError):
        return None
    except Exception as exc:  # rapidyaml's own parse errors
        if type(exc).__module__.startswith("ryml"):
            return None
        raise


def _walk(tree, none):
    """A node → plain data converter, with the tree's methods bound once (this is the hot loop)."""
    is_map, is_seq, key, val, first, nxt = tree.is_map, tree.is_seq, tree.key, tree.val, tree.first_child, \
        tree.next_sibling
    quoted, literal, folded, null = tree.is_val_quoted, tree.is_val_literal, tree.is_val_folded, tree.val_is_null

    def node(i):
        if is_map(i):
            out = {}
            child = first(i)
            while child != none:
                name = str(key(child), "utf-8")
                if name in out:
                    raise _Unusual(name)
                out[name] = node(child)
                child = nxt(child)
            return out
        if is_seq(i):
            items = []
            child = first(i)
            while child != none:
                items.append(node(child))
                child = nxt(child)
            return items
        if null(i):
            return None
        text = str(val(i), "utf-8")
        return text if quoted(i) or literal(i) or folded(i) else _plain(text)

    return node
