"""The spec's schema language.

A spec model is a SpecModel subclass whose fields are declared as `name = field(type, doc)`. One
declaration gives three things: the parser (marked YAML → model objects, every
problem located), the walk over user texts for expression checks, and the JSON
Schema that `water schema` prints. Nothing about the spec is written twice.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, Callable, Iterator

from water.errors import Problem
from water.spec.marked import Mark, MarkedList, MarkedMap

INVALID = object()  # a value that failed to parse; its problem is already recorded


class Ctx:
    """Where parsing is (file) and what it found wrong so far."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, mark: Mark, path: str, message: str, hint: str = "") -> object:
        """A problem at `mark`: in the spec, or in the file a FileMark names (a SQL file the spec names)."""
        self.problems.append(Problem(getattr(mark, "file", self.file), mark[0], mark[1], path, message, hint))
        return INVALID


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "a string"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


class Type:
    """A field's value type: parses a loaded value and describes itself as JSON Schema."""

    def parse(self, value: Any, mark: Mark, path: str, ctx: Ctx) -> Any:
        raise NotImplementedError

    def schema(self, defs: dict) -> dict:
        raise NotImplementedError

    def texts(self, value: Any, mark: Mark, path: str, keep: Callable[[str], bool]) -> Iterator[tuple]:
        """(path, mark, text) of every user text inside a parsed value that may hold expressions, of those that
        `keep` accepts: a text it rejects costs no path (a spec has thousands of texts; few need a look)."""
        return iter(())


class FieldInfo:
    """One declared field: attribute, YAML key, type, doc, whether required, default (as written in YAML)."""

    __slots__ = ("attr", "key", "type", "doc", "required", "default")

    def __init__(self, type_: Type, doc: str, required: bool, default: Any, key: str | None) -> None:
        self.attr, self.key, self.type, self.doc, self.required, self.default = "", key, type_, doc, required, default


def _camel(attr: str) -> str:
    head, *rest = attr.rstrip("_").split("_")
    return head + "".join(w.title() for w in rest)


def field(type_: Type, doc: str, *, required: bool = False, default: Any = None, key: str | None = None) -> Any:
    """Declare one spec field. `key` defaults to the camelCase of the attribute name."""
    return FieldInfo(type_, doc, required, default, key)


class SpecModel:
    """Base of spec models. Subclasses declare fields as `name = field(...)` class attributes; the parser
    sets every one on the instance (unset optional fields are None)."""

    __spec_fields__: tuple = ()
    __spec_keys__: dict = {}
    __spec_unset__: dict = {}
    __spec_hints__: dict = {}  # a key users write from other tools → what to write instead

    def __init_subclass__(cls) -> None:
        fields = []
        for attr, value in list(vars(cls).items()):
            if isinstance(value, FieldInfo):
                value.attr, value.key = attr, value.key or _camel(attr)
                fields.append(value)
                delattr(cls, attr)
        cls.__spec_fields__ = tuple(fields)
        cls.__spec_keys__ = {f.key: f for f in fields}
        cls.__spec_unset__ = {f.attr: None for f in fields}

    def __init__(self, **values: Any) -> None:
        for f in self.__spec_fields__:
            setattr(self, f.attr, values.pop(f.attr, None))
        self.__dict__.update(values)

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.attr}={getattr(self, f.attr)!r}" for f in self.__spec_fields__)
        return f"{type(self).__name__}({shown})"


def mark_of(obj: Any, attr: str | None = None) -> Mark:
    """Where a parsed model (or one of its fields) was written; (1, 1) if not from a file."""
    marks = getattr(obj, "_marks", {})
    found = marks.get(attr) if attr is not None else None
    if found is None:
        found = getattr(obj, "_mark", None) or (1, 1)
    return found


def is_set(obj: Any, attr: str) -> bool:
    """Whether the user wrote this field (as opposed to taking its default)."""
    return attr in getattr(obj, "_marks", {})


class Model(Type):
    """A nested spec model. `variants` (name → model) means: exactly one of these keys."""

    def __init__(self, cls, variants: Callable[[], dict] | None = None) -> None:
        self.cls = cls
        self._variants = variants
        self._known: dict | None = None  # variants, and the fields sorted by what parse does when missing
        self._required: tuple = ()
        self._defaulted: tuple = ()

    def variants(self) -> dict:
        """The variant models by key, looked up once (the step kinds register late)."""
        if self._known is None:
            fields = self.cls.__spec_fields__
            self._required = tuple(f for f in fields if f.required)
            self._defaulted = tuple(f for f in fields if not f.required and f.default is not None)
            self._known = known = self._variants() if self._variants else {}
            return known
        return self._known

    def parse(self, value: Any, mark: Mark, path: str, ctx: Ctx) -> Any:
        if not isinstance(value, dict):
            return ctx.problem(mark, path, f"expected a mapping, got {type_name(value)}")
        keys = self.cls.__spec_keys__
        variants = self._known if self._known is not None else self.variants()
        marked = value if isinstance(value, MarkedMap) else None
        values, marks = {}, {}
        prefix = f"{path}." if path else ""
        # the keys written, then what is missing: a step writes a few of its many fields
        for key, item in value.items():
            f = keys.get(key)
            if f is not None:
                vmark = marked.value_marks[key] if marked is not None else mark
                values[f.attr] = f.type.parse(item, vmark, prefix + key, ctx)
                marks[f.attr] = vmark
            elif key not in variants:
                at = marked.key_marks[key] if marked is not None else mark
                ctx.problem(at, prefix + key, "unknown field", self.cls.__spec_hints__.get(key) or
                            did_you_mean(key, [*keys, *variants]))
        for f in self._required:
            if f.key not in value:
                ctx.problem(mark, prefix + f.key, "required field is missing")
        for f in self._defaulted:
            if f.key not in value:
                values[f.attr] = f.type.parse(f.default, mark, prefix + f.key, ctx)
        if variants:
            self._parse_variant(value, mark, path, ctx, variants, values, marks)
        obj = self.cls.__new__(self.cls)  # as __init__ would make it, without its per-field loop
        attributes = obj.__dict__
        attributes.update(self.cls.__spec_unset__)
        attributes.update(values)
        attributes["_mark"], attributes["_marks"] = mark, marks
        return obj

    def _parse_variant(self, value: Any, mark: Mark, path: str, ctx: Ctx, variants, values, marks) -> None:
        chosen = [k for k in value if k in variants]
        if len(chosen) != 1:
            names = ", ".join(variants)
            why = "needs one of" if not chosen else f"has {len(chosen)} kinds ({', '.join(chosen)}); keep one of"
            ctx.problem(mark, path, f"step {why}: {names}")
            values["kind"] = INVALID
            return
        kind = chosen[0]
        vmark = value.value_marks[kind] if isinstance(value, MarkedMap) else mark
        values["kind"] = kind
        values["config"] = model_of(variants[kind]).parse(value[kind], vmark, _join(path, kind), ctx)
        marks["config"] = vmark

    def schema(self, defs: dict) -> dict:
        name = self.cls.__name__
        if name not in defs:
            defs[name] = {}  # reserve first: models may nest themselves
            props, required = {}, []
            for f in self.cls.__spec_fields__:
                prop = dict(f.type.schema(defs))
                prop["description"] = f.doc
                if f.default not in (None, [], {}):
                    prop["default"] = f.default
                props[f.key] = prop
                if f.required:
                    required.append(f.key)
            out = {"type": "object", "description": (self.cls.__doc__ or "").strip(), "properties": props,
                   "additionalProperties": False}
            if required:
                out["required"] = required
            if self._variants:
                for kind, vcls in self.variants().items():
                    props[kind] = {**Model(vcls).schema(defs), "description": (vcls.__doc__ or "").strip()}
                out["oneOf"] = [{"required": [k]} for k in self.variants()]
            defs[name] = out
        return {"$ref": f"#/$defs/{name}"}

    def texts(self, value: Any, mark: Mark, path: str, keep: Callable[[str], bool]) -> Iterator[tuple[str, Mark, str]]:
        if value is INVALID or value is None:
            return
        for f in self.cls.__spec_fields__:
            sub = getattr(value, f.attr)
            if sub is not None and (sub.__class__ is not str or keep(sub)):
                yield from f.type.texts(sub, mark_of(value, f.attr), _join(path, f.key), keep)
        if self._variants and getattr(value, "config", None) is not None:
            vcls = self.variants()[value.kind]
            yield from model_of(vcls).texts(value.config, mark_of(value, "config"), _join(path, value.kind), keep)


class List(Type):
    def __init__(self, item: Type, min_items: int = 0, unique: bool = False) -> None:
        self.item, self.min_items, self.unique = item, min_items, unique

    def parse(self, value: Any, mark: Mark, path: str, ctx: Ctx) -> Any:
        if not isinstance(value, list):
            hint = f"write [{value}]" if isinstance(value, str) and value and "," not in value else ""
            return ctx.problem(mark, path, f"expected a list, got {type_name(value)}", hint)
        if len(value) < self.min_items:
            return ctx.problem(mark, path, f"needs at least {self.min_items} item(s)")
        parse_item = self.item.parse
        if isinstance(value, MarkedList):
            marks = list(value.item_marks)
            items = [parse_item(item, marks[i], f"{path}[{i}]", ctx) for i, item in enumerate(value)]
        else:
            items = [parse_item(item, mark, f"{path}[{i}]", ctx) for i, item in enumerate(value)]
            marks = [mark] * len(items)
        if self.unique and len(set(items)) < len(items):
            _report_repeats(items, marks, path, ctx)
        return MarkedList.of(items, mark, marks)

    def schema(self, defs: dict) -> dict:
        out: dict = {"type": "array", "items": self.item.schema(defs)}
        if self.min_items:
            out["minItems"] = self.min_items
        if self.unique:
            out["uniqueItems"] = True
        return out

    def texts(self, value: Any, mark: Mark, path: str, keep: Callable[[str], bool]) -> Iterator[tuple[str, Mark, str]]:
        for i, item in enumerate(value):
            if item.__class__ is not str or keep(item):
                yield from self.item.texts(item, value.item_marks[i] if isinstance(value, MarkedList) else mark,
                                           f"{path}[{i}]", keep)


def _report_repeats(items: list, marks: list, path: str, ctx: Ctx) -> None:
    seen = set()
    for i, item in enumerate(items):
        if isinstance(item, str):
            if item in seen:
                ctx.problem(marks[i], f"{path}[{i}]", f"'{item}' is listed twice")
            seen.add(item)


class Map(Type):
    def __init__(self, key: Type, value: Type, what: str = "key") -> None:
        self.key, self.value, self.what = key, value, what

    def parse(self, value: Any, mark: Mark, path: str, ctx: Ctx) -> Any:
        if not isinstance(value, dict):
            return ctx.problem(mark, path, f"expected a mapping, got {type_name(value)}")
        out = MarkedMap.empty(mark)
        for k, v in value.items():
            kmark = value.key_marks[k] if isinstance(value, MarkedMap) else mark
            vmark = value.value_marks[k] if isinstance(value, MarkedMap) else mark
            self.key.parse(k, kmark, _join(path, k), ctx)
            out[k] = self.value.parse(v, vmark, _join(path, k), ctx)
            out.key_marks[k], out.value_marks[k] = kmark, vmark
        return out

    def schema(self, defs: dict) -> dict:
        out = {"type": "object", "additionalProperties": self.value.schema(defs)}
        key = self.key.schema(defs)
        if "pattern" in key:
            out["propertyNames"] = {"pattern": key["pattern"]}
        return out

    def texts(self, value: Any, mark: Mark, path: str, keep: Callable[[str], bool]) -> Iterator[tuple[str, Mark, str]]:
        for k, v in value.items():
            if v.__class__ is not str or keep(v):
                vmark = value.value_marks[k] if isinstance(value, MarkedMap) else mark
                yield from self.value.texts(v, vmark, _join(path, k), keep)


class Union(Type):
    """One of several types, chosen by the loaded value's Python type."""

    def __init__(self, *choices: tuple[type, Type], what: str) -> None:
        self.choices, self.what = choices, what

    def parse(self, value: Any, mark: Mark, path: str, ctx: Ctx) -> Any:
        for py_type, choice in self.choices:
            if isinstance(value, py_type) and not (isinstance(value, bool) and py_type is not bool):
                return choice.parse(value, mark, path, ctx)
        return ctx.problem(mark, path, f"expected {self.what}, got {type_name(value)}")

    def schema(self, defs: dict) -> dict:
        return {"anyOf": [c.schema(defs) for _, c in self.choices]}

    def texts(self, value: Any, mark: Mark, path: str, keep: Callable[[str], bool]) -> Iterator[tuple[str, Mark, str]]:
        for py_type, choice in self.choices:
            if isinstance(value, py_type) or (py_type is dict and hasattr(value, "_marks")):
                yield from choice.texts(value, mark, path, keep)
                return


def model_of(cls, _made: dict = {}) -> Model:  # noqa: B006 - a cache shared on purpose
    """The Model of a spec class without variants, made once."""
    made = _made.get(cls)
    if made is None:
        made = _made[cls] = Model(cls)
    return made


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def parse(cls, data: Any, ctx: Ctx, path: str = "") -> Any:
    """Parse loaded data as model `cls`; problems land in ctx."""
    return Model(cls).parse(data, getattr(data, "mark", (1, 1)), path, ctx)


def json_schema(cls, title: str) -> dict:
    defs: dict = {}
    root = Model(cls).schema(defs)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title, **root, "$defs": defs}


_SCALARS = (str, int, float, bool, type(None))


def as_data(value: Any) -> Any:
    """A parsed model as plain data under its YAML keys (unset fields left out)."""
    if value.__class__ in _SCALARS:  # most values: checked first, as a model's missing attribute costs more
        return value
    if isinstance(value, SpecModel):
        out = {}
        for f in value.__spec_fields__:
            sub = getattr(value, f.attr)
            if sub is not None:
                out[f.key] = as_data(sub)
        kind, config = getattr(value, "kind", None), getattr(value, "config", None)
        if config is not None and kind:
            out[kind] = as_data(config)
        return out
    if isinstance(value, dict):
        return {k: as_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_data(v) for v in value]
    return value
