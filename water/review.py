"""Objects as a person reviews them: each step's config decoded where the manifests carry it as JSON (in the steps'
ConfigMaps, whose set is reviewed as one object whatever its name, and as base64 in a template's `--shared` and in
templates rendered before), multi-line texts such as SQL as blocks of their own lines, so that a one-line SQL edit
is a one-line diff; and a huge diff summarized per object."""
from __future__ import annotations

import base64
import functools
import json
import re
from typing import Any

from water import drift
from water.render import AWS_DEFINITIONS, configs
from water.render.pods import PIPELINE_LABEL

DECODED_MARK = "(decoded)"
DECODED = f"value {DECODED_MARK}"  # what a config parameter's value is shown as: never applied, only read
SHARED_ARG = "--shared"
CONFIG_PARAMS = ("config",)
DIFF_LINES = 200  # a changed object's diff longer than this is summarized, unless asked for in full
HEAD_LINES = 40


def readable(obj: dict) -> dict:
    """A copy with each config decoded (a steps ConfigMap's values; task and hook arguments named `config`, a
    template's `--shared`), and the AWS definitions the object carries as data."""
    if configs.is_steps_configmap(obj):
        view = {k: v for k, v in obj.items() if k != "data"}
        view[f"data {DECODED_MARK}"] = _decoded_data(obj.get("data") or {})
        return view
    view = _decoded_copy(obj)
    annotations = (view.get("metadata") or {}).get("annotations") or {}
    if AWS_DEFINITIONS in annotations:
        annotations[f"{AWS_DEFINITIONS} (decoded)"] = json.loads(annotations.pop(AWS_DEFINITIONS))
    return view


def _decoded_copy(value: Any) -> Any:
    """A copy of the tree, built in one walk (copy.deepcopy and a second walk took twice as long on a 4,000-step
    template), with the configs decoded."""
    if isinstance(value, dict):
        view = {key: _decoded_copy(item) for key, item in value.items()}
        if view.get("name") in CONFIG_PARAMS and isinstance(view.get("value"), str):
            decoded = _decoded(view["value"])
            if decoded is not None:
                del view["value"]
                view[DECODED] = decoded
        args = view.get("args")
        if isinstance(args, list):
            for i, arg in enumerate(args[:-1]):
                if arg == SHARED_ARG and isinstance(args[i + 1], str):
                    decoded = _decoded(args[i + 1])
                    args[i + 1] = {"(decoded)": decoded} if decoded is not None else args[i + 1]
        return view
    if isinstance(value, list):
        return [_decoded_copy(item) for item in value]
    return value


def _decoded_data(data: dict) -> dict:
    """Each value decoded from JSON: all in one call to json's C decoder (20,000 calls of it cost 20x as much), each
    on its own only when one of them is not JSON."""
    try:
        values = json.loads(f"[{','.join(data.values())}]")
    except ValueError:
        values = []
    if len(values) != len(data):  # one is not JSON (or, edited by hand, reads as several values)
        return {key: _json(text) for key, text in data.items()}
    return dict(zip(data, values))


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text  # not water's: shown as it is


def steps_set(maps: list) -> dict | None:
    """The ConfigMaps of one set of step configs as the one object a person reviews (their names beside each other,
    the data of all): a revision's set is diffed against the one it follows whatever their names (None: none)."""
    if not maps:
        return None
    first = maps[0]
    names = [m["metadata"]["name"] for m in maps]
    meta = {**first["metadata"], "name": names[0] if len(names) == 1 else ", ".join(names)}
    return {**first, "metadata": meta, "data": {k: v for m in maps for k, v in (m.get("data") or {}).items()}}


def steps_name(pipeline: str) -> str:
    """What the steps' ConfigMaps of a pipeline are reviewed as."""
    return f"configmap/{pipeline}-steps"


def _decoded(text: str) -> Any:
    try:
        found = json.loads(base64.b64decode(text, validate=True).decode())  # a str: json skips guessing its encoding
    except (ValueError, TypeError):
        return None  # not water's encoding: shown as it is
    return found if isinstance(found, dict) else None


_NUMBER = re.compile(r"[-+]?[0-9][0-9_.]*(?:[eE][-+]?[0-9]+)?")
_PLAIN = re.compile(r"[A-Za-z0-9/$(._][^\n]*\Z")  # what reads as itself unquoted (display only: never applied)


def to_text(obj: Any) -> str:
    """YAML for reading, never for applying: multi-line strings as literal blocks, one line of the text per line;
    written here in one pass (PyYAML's representer took 1.8 s of a 4,000-step diff)."""
    out: list = []
    _write(obj, "", out)
    return "".join(out)


def _write(value: Any, indent: str, out: list) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _entry(f"{indent}{_scalar(str(key))}:", item, indent, out)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item:  # `- key: value`, the rest of its keys under the first
                for n, (key, sub) in enumerate(item.items()):
                    _entry(f"{indent}{'- ' if n == 0 else '  '}{_scalar(str(key))}:", sub, indent + "  ", out)
            elif isinstance(item, list) and item:
                out.append(f"{indent}-\n")
                _write(item, indent + "  ", out)
            else:
                _entry(f"{indent}-", item, indent, out)
    else:
        out.append(f"{indent}{_scalar(value)}\n")


def _entry(head: str, value: Any, indent: str, out: list) -> None:
    """`head` (a key, or a list's dash) and its value: inline when a scalar, else nested below."""
    if isinstance(value, str) and "\n" in value.rstrip("\n"):
        out.append(f"{head} |{'' if value.endswith(chr(10)) else '-'}\n")
        out.extend(f"{indent}  {line}\n" if line else "\n" for line in value.rstrip("\n").split("\n"))
    elif isinstance(value, dict) and value:
        out.append(head + "\n")
        _write(value, indent + "  ", out)
    elif isinstance(value, list) and value:
        out.append(head + "\n")
        _write(value, indent, out)
    else:
        out.append(f"{head} {_scalar(value)}\n")


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, (dict, list)):  # an empty one (a full one is written nested)
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(value)


@functools.lru_cache(maxsize=65536)  # keys and names repeat in every task of a template
def _text(value: str) -> str:
    """A text as written: quoted unless it reads as itself (a number-like text stays a text to the eye)."""
    plain = _PLAIN.match(value) and value == value.strip() and value not in ("true", "false", "null") and \
        not _NUMBER.fullmatch(value) and ": " not in value and " #" not in value and not value.endswith(":")
    return value if plain else json.dumps(value, ensure_ascii=False)


def diff(name: str, before: dict | None, after: dict | None, *, source: str) -> str:
    """The unified diff of two objects as reviewed (None: absent)."""
    return drift.unified_diff(name, *_shown(before, after), source=source)


FOLD_ITEMS = 50  # an unchanged list of at least this many items (a DAG's tasks) is one line on both sides


def _shown(before: dict | None, after: dict | None) -> tuple[str, str]:
    """Both sides as reviewed, each large part that is the same on both (a DAG whose tasks did not change) folded
    to one line: a diff shows only what changed and its context, and a 4,000-task template is not written out
    twice to find its three changed lines."""
    old, new = (readable(obj) if obj is not None else None for obj in (before, after))
    if old is not None and new is not None:
        old, new = _folded(old, new)
    return (to_text(old) if old is not None else "", to_text(new) if new is not None else "")


def _folded(old: Any, new: Any) -> tuple[Any, Any]:
    if isinstance(old, dict) and isinstance(new, dict):
        pairs = {k: _folded(old[k], new[k]) if k in old else (None, new[k]) for k in new}
        return ({k: pairs[k][0] if k in new else v for k, v in old.items()},
                {k: pair[1] for k, pair in pairs.items()})
    if isinstance(old, list) and isinstance(new, list):
        if len(old) >= FOLD_ITEMS and old == new:
            return [f"({len(old)} items, unchanged)"], [f"({len(new)} items, unchanged)"]
        if len(old) == len(new):
            items = [_folded(a, b) for a, b in zip(old, new)]
            return [a for a, _ in items], [b for _, b in items]
    return old, new


def summarized(text: str, limit: int = DIFF_LINES, head: int = HEAD_LINES) -> str:
    """A diff as printed by default: in full up to `limit` lines, else its first `head` lines and the counts."""
    lines = text.splitlines(True)
    if len(lines) <= limit:
        return text
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    return "".join(lines[:head]) + (f"... {len(lines) - head} more diff lines ({added} added, {removed} removed in "
                                     "all): --full shows them\n")


def between_revisions(older: Any, newer: Any) -> str:
    """What changed from one revision to another (water.revisions.Revision): the spec, each project file it names,
    then each object of the manifests as reviewed."""
    from water.revisions import manifest_objects

    def labelled(name: str, before: str, after: str) -> str:
        return drift.labelled_diff(before, after, f"revision-{older.number}/{name}", f"revision-{newer.number}/{name}")

    def objects(revision: Any) -> dict:
        found = manifest_objects(revision.manifests)
        steps = [o for o in found if configs.is_steps_configmap(o)]
        named = {f"{o['kind'].lower()}/{o['metadata']['name']}": o for o in found
                 if not configs.is_steps_configmap(o)}
        return {**named, steps_name(steps[0]["metadata"]["labels"][PIPELINE_LABEL]): steps_set(steps)} if steps \
            else named

    parts = [labelled("water.yaml", older.spec, newer.spec)]
    parts += [labelled(name, older.files.get(name, ""), newer.files.get(name, ""))
              for name in sorted(set(older.files) | set(newer.files))]
    before, after = objects(older), objects(newer)
    for name in sorted(set(before) | set(after)):
        parts.append(labelled(name, *_shown(before.get(name), after.get(name))))
    return "".join(parts)
