"""The fast path for reading a spec: rapidyaml (C++) parses and emits JSON, the C json
module reads it. For a 5,000-step spec that is ~30 ms against ~900 ms through PyYAML.

It has no line marks, so it serves only specs that turn out valid. Anything it cannot
read exactly as the marked loader would (explicit tags, several documents, duplicate
keys, plain scalars that YAML 1.2 reads as non-strings but rapidyaml's JSON quotes, JSON
it cannot emit, an empty document, an alias inside the node its anchor names, which
rapidyaml would resolve until the process crashes, aliases that expand past MAX_VALUES)
returns None: the marked loader then reads the text, and it also
re-reads every spec whose checks fail, so that each problem has its line.
"""
from __future__ import annotations

import json
import os
import re
from bisect import bisect_left
from contextlib import contextmanager
from typing import Any

MAX_VALUES = 1_000_000  # nodes a spec may expand to through aliases; the bench's 5,000 steps are ~60,000

_NODE_AFTER = " \t\r\n[{,:-"  # where a `!` starts a tag, a `&` an anchor (elsewhere they are text: `a!=b`)
# Strings whose text, written plain, YAML 1.2 reads as bool, null, int or float, but which rapidyaml's JSON
# quotes. Searched in that JSON, where every string stands alone between quotes: a hit may also be a string
# the user quoted, which the marked loader then reads; either way the answer is the same.
_AMBIGUOUS = re.compile(r'"(?:True|TRUE|False|FALSE|Null|NULL|~|[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)'
                        r'|[-+]?0[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)"')


class _Unusual(Exception):
    pass


def _unique(pairs: list) -> dict:
    data = dict(pairs)
    if len(data) != len(pairs):
        raise _Unusual("duplicate key")
    return data


def load(text: str) -> Any:
    """Plain data of a one-document YAML text, or None where the marked loader must decide."""
    if _starts_a_node(text, "!"):
        return None
    try:
        import ryml
    except ImportError:  # pragma: no cover - rapidyaml is a dependency; still work without it
        return None
    try:
        with _quiet_stderr():
            tree = ryml.parse_in_arena(text.encode())
            if may_have_anchors(text):
                _count_expanded(tree, ryml.NONE)  # before resolve: an alias bomb would fill the memory
            tree.resolve()  # anchors, aliases and << merges
        root = tree.root_id()
        if tree.is_stream(root) and tree.num_children(root) != 1:
            return None
        emitted = ryml.emit_json(tree)
        if emitted is None or _AMBIGUOUS.search(emitted):  # None: nothing to emit (an empty document)
            return None
        data = json.loads(emitted, object_pairs_hook=_unique)
    except (_Unusual, ValueError, RuntimeError):
        return None
    except Exception as exc:  # rapidyaml's own parse errors
        if type(exc).__module__.startswith("ryml"):
            return None
        raise
    return data


def _starts_a_node(text: str, char: str) -> bool:
    """Whether `char` may start a tag (`!`) or an anchor (`&`) somewhere in the text."""
    at = text.find(char)
    while at != -1:  # str.find, not a regex: most specs have neither at all
        if at == 0 or text[at - 1] in _NODE_AFTER:
            return True
        at = text.find(char, at + 1)
    return False


def may_have_anchors(text: str) -> bool:
    return _starts_a_node(text, "&")


def _count_expanded(tree, none: int) -> int:
    """The nodes of the tree once its aliases are resolved, counted without resolving them: node ids run in
    document order, so a subtree is a range of ids and an alias names the last anchor before it. Raises
    _Unusual past MAX_VALUES or for an alias inside its own anchor (`a: &x [1, *x]`)."""
    size = tree.size()
    refs, target, latest = [], {}, {}
    for node in range(size):
        if tree.has_val_anchor(node):
            latest[bytes(tree.val_anchor(node))] = node
        elif tree.is_val_ref(node):
            refs.append(node)
            target[node] = latest.get(bytes(tree.val_ref(node)))  # None: undefined, which resolve reports
    counted: dict[int, int | None] = {}

    def count(node: int) -> int:
        if node in counted:
            if counted[node] is None:
                raise _Unusual("an alias inside its own anchor")
            return counted[node] or 0
        counted[node] = None
        end = _subtree_end(tree, node, none, size)
        total = end - node
        for ref in refs[bisect_left(refs, node):bisect_left(refs, end)]:
            upstream = target[ref]
            total += count(upstream) - 1 if upstream is not None else 0
            if total > MAX_VALUES:
                raise _Unusual("aliases expand past MAX_VALUES")
        counted[node] = total
        return total

    return count(tree.root_id())


def _subtree_end(tree, node: int, none: int, size: int) -> int:
    """The first id after node's subtree: its next sibling's, or that of its nearest ancestor with one."""
    while tree.next_sibling(node) == none:
        node = tree.parent(node)
        if node == none:
            return size
    return tree.next_sibling(node)


@contextmanager
def _quiet_stderr():
    """rapidyaml prints its parse errors to the process's stderr; the marked loader reports them instead."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
