"""Validated pipeline → Kubernetes objects (plain dicts), serialized once, deterministically."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import yaml

from water.render import images
from water.render.argo import cron_workflow, workflow_template
from water.render.cronjob import plain_cronjob, submitter_cronjob

LARGE_OBJECT = 512 * 1024  # etcd rejects requests near 1.5 MiB; warn well before
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass
class Rendered:
    objects: list
    warnings: list = field(default_factory=list)


def render(pipeline, git_commit: str | None = None, strict: bool = False) -> Rendered:
    """The objects a pipeline deploys as, in apply order. `strict`: what would only be warned about (an image
    left unresolved) is an error, as deploying it would fail."""
    pipeline, warnings = images.resolved(pipeline, strict)
    if pipeline.spec.runner == "cronjob":
        objects = [plain_cronjob(pipeline, git_commit)]
    else:
        objects = [workflow_template(pipeline, git_commit)]
        schedule = pipeline.spec.schedule
        if schedule and schedule.via == "cronjob":
            objects.append(submitter_cronjob(pipeline, git_commit))
        elif schedule:
            objects.append(cron_workflow(pipeline, git_commit))
    for obj in objects:
        size = len(to_json(obj))
        if size > LARGE_OBJECT:
            warnings.append(f"{obj['kind']} {obj['metadata']['name']} is {size // 1024} KiB; the API server "
                            "rejects objects near 1.5 MiB: split the pipeline or shorten inline texts")
    return Rendered(objects, warnings)


def to_yaml(objects: list) -> str:
    """YAML documents, byte for byte as PyYAML's C emitter writes them in block style, but written directly:
    each distinct string is rendered once by that emitter (so its quoting is libyaml's own), the layout around
    it here. Texts whose layout depends on where they stand (line breaks, very long keys) send the whole output
    through the emitter.
    Never an anchor or alias for objects shared in memory."""
    out = []
    try:
        for obj in objects:
            out.append("---\n")
            _write_block(obj, "", out)
    except _NeedsEmitter:
        return yaml.emit(_events(objects), Dumper=_Dumper, width=1 << 20, allow_unicode=True)
    return "".join(out)


class _NeedsEmitter(Exception):
    """A text whose layout depends on where it stands: a line break, or a key long enough for `? key`."""


_PLAIN = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_./=+-]*\Z")  # no indicator, space, colon or quote anywhere


def _key(key) -> str:
    if len(key) > 120:  # libyaml writes keys over 128 characters as `? key`
        raise _NeedsEmitter
    return _scalar(key)


def _scalar(value, _cache: dict = {}) -> str:  # noqa: B006 - a cache shared on purpose
    """A scalar as libyaml writes it as a block mapping's value, without the line break."""
    text = _cache.get(value) if value.__class__ is str else None
    if text is None and value.__class__ is str and _PLAIN.match(value) and _plain_is_string(value):
        text = _cache[value] = value  # what libyaml writes plain; checked against it by a test
    if text is None:
        if value.__class__ is str and ("\n" in value or "\r" in value or "\x85" in value or "\u2028" in value
                                       or "\u2029" in value):
            raise _NeedsEmitter
        text = yaml.emit(_events([{"k": value}]), Dumper=_Dumper, width=1 << 20, allow_unicode=True)[7:-1]
        if value.__class__ is str:
            _cache[value] = text
    return text


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


_STR_TAG = "tag:yaml.org,2002:str"
_resolver = yaml.resolver.Resolver()  # the rules a YAML reader applies to plain scalars


def _plain_is_string(text: str, _cache: dict = {}) -> bool:  # noqa: B006 - a cache shared on purpose
    """Whether `text` written plain reads back as the same string (else the emitter quotes it)."""
    known = _cache.get(text)
    if known is None:
        known = _cache[text] = _resolver.resolve(yaml.nodes.ScalarNode, text, (True, False)) == _STR_TAG
    return known


def _events(objects: list):
    yield yaml.StreamStartEvent()
    for obj in objects:
        yield yaml.DocumentStartEvent(explicit=True)
        yield from _node_events(obj)
        yield yaml.DocumentEndEvent(explicit=False)
    yield yaml.StreamEndEvent()


def _node_events(value):
    if isinstance(value, dict):
        yield yaml.MappingStartEvent(None, None, True, flow_style=not value)
        for key, item in value.items():
            yield yaml.ScalarEvent(None, None, (_plain_is_string(key), True), key)
            yield from _node_events(item)
        yield yaml.MappingEndEvent()
    elif isinstance(value, list):
        yield yaml.SequenceStartEvent(None, None, True, flow_style=not value)
        for item in value:
            yield from _node_events(item)
        yield yaml.SequenceEndEvent()
    elif isinstance(value, str):
        yield yaml.ScalarEvent(None, None, (_plain_is_string(value), True), value)
    elif isinstance(value, bool):
        yield yaml.ScalarEvent(None, None, (True, False), "true" if value else "false")
    elif isinstance(value, int):
        yield yaml.ScalarEvent(None, None, (True, False), str(value))
    else:
        raise TypeError(f"cannot write {type(value).__name__} to a manifest")


def to_json(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def to_json_list(objects: list) -> str:
    """Several objects as kubectl prints them: a List."""
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, indent=2, ensure_ascii=False) + "\n"


def file_name(obj: dict) -> str:
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}"
