"""Objects as a person reviews them: each step's config decoded where the manifests carry it as base64 JSON (so
Argo never reads user text), multi-line texts such as SQL as blocks of their own lines, so that a one-line SQL
edit is a one-line diff; and a huge diff summarized per object."""
from __future__ import annotations

import base64
import copy
import difflib
import json
from typing import Any

from water import drift

DECODED = "value (decoded)"  # what a config parameter's value is shown as: never applied, only read
SHARED_ARG = "--shared"
CONFIG_PARAMS = ("config",)
DIFF_LINES = 200  # a changed object's diff longer than this is summarized, unless asked for in full
HEAD_LINES = 40


def readable(obj: dict) -> dict:
    """A copy with each base64 config decoded: task and hook arguments named `config`, a template's `--shared`."""
    view = copy.deepcopy(obj)
    _decode_in(view)
    return view


def _decode_in(value: Any) -> None:
    if isinstance(value, dict):
        if value.get("name") in CONFIG_PARAMS and isinstance(value.get("value"), str):
            decoded = _decoded(value["value"])
            if decoded is not None:
                del value["value"]
                value[DECODED] = decoded
        args = value.get("args")
        if isinstance(args, list):
            for i, arg in enumerate(args[:-1]):
                if arg == SHARED_ARG and isinstance(args[i + 1], str):
                    decoded = _decoded(args[i + 1])
                    args[i + 1] = {"(decoded)": decoded} if decoded is not None else args[i + 1]
        for item in value.values():
            _decode_in(item)
    elif isinstance(value, list):
        for item in value:
            _decode_in(item)


def _decoded(text: str) -> Any:
    try:
        found = json.loads(base64.b64decode(text, validate=True))
    except (ValueError, TypeError):
        return None  # not water's encoding: shown as it is
    return found if isinstance(found, dict) else None


def to_text(obj: Any) -> str:
    """YAML for reading: multi-line strings as literal blocks, one line of the text per line."""
    import yaml

    base: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's emitter where there is one

    class Dumper(base):
        pass

    def text(dumper: Any, data: str) -> Any:
        if "\n" in data and not any(c in data for c in "\r\t") and data == data.rstrip(" "):
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
        return dumper.represent_scalar("tag:yaml.org,2002:str", data)

    Dumper.add_representer(str, text)
    return yaml.dump(obj, Dumper=Dumper, sort_keys=False, width=1 << 20, allow_unicode=True)


def diff(name: str, before: dict | None, after: dict | None, *, source: str) -> str:
    """The unified diff of two objects as reviewed (None: absent)."""
    return drift.unified_diff(name, to_text(readable(before)) if before is not None else "",
                              to_text(readable(after)) if after is not None else "", source=source)


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
    import yaml

    def labelled(name: str, before: str, after: str) -> str:
        return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                            f"revision-{older.number}/{name}", f"revision-{newer.number}/{name}"))

    def objects(revision: Any) -> dict:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return {f"{o['kind'].lower()}/{o['metadata']['name']}": o
                for o in yaml.load_all(revision.manifests or "", Loader=loader) if o}

    parts = [labelled("water.yaml", older.spec, newer.spec)]
    parts += [labelled(name, older.files.get(name, ""), newer.files.get(name, ""))
              for name in sorted(set(older.files) | set(newer.files))]
    before, after = objects(older), objects(newer)
    for name in sorted(set(before) | set(after)):
        parts.append(labelled(name, to_text(readable(before[name])) if name in before else "",
                              to_text(readable(after[name])) if name in after else ""))
    return "".join(parts)
