"""Value types of the spec: strings with rules, numbers, quantities, durations, cron."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from water.spec.fields import INVALID, Type, did_you_mean, type_name

if TYPE_CHECKING:
    from water.spec.fields import Ctx
    from water.spec.marked import Mark

EXPR_OPEN = "{{"


class Str(Type):
    """A string. `expr`: may hold water expressions ({{...}}), checked later with the step."""

    def __init__(self, pattern: str | None = None, what: str = "", *, enum: tuple = (), max_len: int = 0,
                 expr: bool = False, suggest: Callable[[str], str] | None = None) -> None:
        self.regex = re.compile(pattern) if pattern else None
        self.pattern, self.what, self.enum, self.max_len, self.expr = pattern, what, enum, max_len, expr
        self.suggest = suggest

    def parse(self, value: Any, mark: Mark, path: str, ctx: Ctx) -> Any:
        if not isinstance(value, str):
            hint = f"quote it: '{value}'" if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
            return ctx.problem(mark, path, f"expected {self.what or 'a string'}, got {type_name(value)}", hint)
        if self.enum and value not in self.enum:
            hint = did_you_mean(value, self.enum) or ""
            return ctx.problem(mark, path, f"'{value}' is not one of: {', '.join(self.enum)}", hint)
        if self.max_len and len(value) > self.max_len:
            return ctx.problem(mark, path, f"'{value}' is {len(value)} characters long; at most {self.max_len}")
        if self.regex and not self.regex.fullmatch(value):
            hint = self.suggest(value) if self.suggest else ""
            return ctx.problem(mark, path, f"'{value}' is not {self.what}", hint)
        if not self.expr and EXPR_OPEN in value:
            return ctx.problem(mark, path, "expressions ({{...}}) are not allowed in this field")
        return value

    def schema(self, defs: dict) -> dict:
        out: dict = {"type": "string"}
        if self.enum:
            out["enum"] = list(self.enum)
        if self.pattern:
            out["pattern"] = self.pattern
        if self.max_len:
            out["maxLength"] = self.max_len
        return out

    def texts(self, value: Any, mark: Mark, path: str, keep: Callable[[str], bool]) -> Iterator[tuple[str, Mark, str]]:
        if self.expr and isinstance(value, str) and keep(value):
            yield (path, mark, value)


def Enum(*choices: str) -> Str:
    return Str(enum=choices)


def _dns_suggestion(value: str) -> str:
    fixed = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")
    return f"did you mean '{fixed}'?" if fixed and fixed != value else ""


DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_WHAT = "a valid name: lower-case letters, digits and '-', starting and ending with a letter or digit (DNS-1123)"


def Name(max_len: int) -> Str:
    return Str(DNS_LABEL, DNS_WHAT, max_len=max_len, suggest=_dns_suggestion)


DNS_SUBDOMAIN = Str(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", DNS_WHAT, max_len=253, suggest=_dns_suggestion)


class SecretName(Str):
    """The name of a Secret that holds a secret URL: the URL itself given here is refused without printing it."""

    def __init__(self) -> None:
        super().__init__(DNS_SUBDOMAIN.pattern, DNS_WHAT, max_len=253, suggest=_dns_suggestion)

    def parse(self, value: Any, mark: Mark, path: str, ctx: Ctx) -> Any:
        if isinstance(value, str) and ("://" in value or value.startswith("hooks.")):
            return ctx.problem(mark, path, "this looks like the webhook URL itself (not shown: it holds a token); "
                               "name the Secret that holds it", "kubectl create secret generic slack-webhook "
                               "--from-literal=url=... (or water install --slack-webhook-file)")
        return super().parse(value, mark, path, ctx)
IDENTIFIER = Str(r"^[A-Za-z_][A-Za-z0-9_]*$", "an identifier (letters, digits and '_', not starting with a digit)")
ENV_NAME = Str(r"^[A-Za-z_][A-Za-z0-9_]*$", "a valid environment variable name")
LABEL_KEY = Str(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$",
                "a valid Kubernetes label key", max_len=316)
LABEL_VALUE = Str(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$", "a valid Kubernetes label value", max_len=63)
_IMAGE = (r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
          r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$")
IMAGE = Str("^" + _IMAGE, "a valid image reference (registry/repository:tag)")
# a SageMaker step's image: a full URI (registry/repository...), or framework:version, which render looks up
SAGEMAKER_IMAGE = Str("^(?=[^/]*/|[^:]*:)" + _IMAGE, "a full image URI (registry/repository:tag) or "
                      "framework:version such as xgboost:1.7-1")
TEXT = Str(expr=True)  # free user text: commands, SQL, arguments; may hold water expressions
PLAIN = Str()  # free text that must not hold expressions


class Int(Type):
    """A whole number, within [minimum, maximum] when given."""

    json_type = "integer"

    def __init__(self, minimum: float | None = None, maximum: float | None = None) -> None:
        self.minimum, self.maximum = minimum, maximum

    def parse(self, value: Any, mark: Mark, path: str, ctx: Ctx) -> Any:
        if not isinstance(value, int) or isinstance(value, bool):
            return ctx.problem(mark, path, f"expected a whole number, got {type_name(value)}")
        return self._bounded(value, mark, path, ctx)

    def _bounded(self, value: float, mark: Mark, path: str, ctx: Ctx) -> Any:
        if self.minimum is not None and value < self.minimum:
            return ctx.problem(mark, path, f"{value} is less than {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            return ctx.problem(mark, path, f"{value} is more than {self.maximum}")
        return value

    def schema(self, defs: dict) -> dict:
        out: dict = {"type": self.json_type}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out


class Number(Int):
    """A number, whole or not (YAML's int or float), within [minimum, maximum] when given."""

    json_type = "number"

    def parse(self, value: Any, mark: Mark, path: str, ctx: Ctx) -> Any:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return ctx.problem(mark, path, f"expected a number, got {type_name(value)}")
        if value != value or value in (float("inf"), float("-inf")):
            return ctx.problem(mark, path, f"expected a finite number, got {value}")
        return self._bounded(value, mark, path, ctx)


class Bool(Type):
    def parse(self, value: Any, mark: Mark, path: str, ctx: Ctx) -> Any:
        if not isinstance(value, bool):
            hint = "write true or false" if isinstance(value, str) else ""
            return ctx.problem(mark, path, f"expected true or false, got {type_name(value)}", hint)
        return value

    def schema(self, defs: dict) -> dict:
        return {"type": "boolean"}


class Scalar(Type):
    """A string, number or boolean, kept as the string a process would see."""

    def __init__(self, expr: bool = False) -> None:
        self.expr = expr

    def parse(self, value: Any, mark: Mark, path: str, ctx: Ctx) -> Any:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return repr(value)
        if isinstance(value, str):
            if not self.expr and EXPR_OPEN in value:
                return ctx.problem(mark, path, "expressions ({{...}}) are not allowed in this field")
            return value
        return ctx.problem(mark, path, f"expected a string, number or boolean, got {type_name(value)}")

    def schema(self, defs: dict) -> dict:
        return {"type": ["string", "number", "boolean"]}

    def texts(self, value: Any, mark: Mark, path: str, keep: Callable[[str], bool]) -> Iterator[tuple[str, Mark, str]]:
        if self.expr and isinstance(value, str) and keep(value):
            yield (path, mark, value)


_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


class Duration(Type):
    """`90s`, `30m`, `2h`, `1h30m`, `1d`, or a whole number of seconds; parsed to seconds."""

    def parse(self, value: Any, mark: Mark, path: str, ctx: Ctx) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        m = _DURATION.fullmatch(value) if isinstance(value, str) and value else None
        seconds = 0
        if m:
            d, h, mi, s = (int(g or 0) for g in m.groups())
            seconds = d * 86400 + h * 3600 + mi * 60 + s
        if m or (isinstance(value, int) and not isinstance(value, bool)):
            if not seconds:
                return ctx.problem(mark, path, f"'{value}' is no time at all: a duration must be positive",
                                   "e.g. 90s, 30m, 2h, 1h30m, 1d")
            return seconds
        return ctx.problem(mark, path, f"'{value}' is not a duration", "e.g. 90s, 30m, 2h, 1h30m, 1d")

    def schema(self, defs: dict) -> dict:
        return {"anyOf": [{"type": "string", "pattern": _DURATION.pattern}, {"type": "integer", "minimum": 1}]}


_QUANTITY = re.compile(r"^([+]?(?:\d+(?:\.\d*)?|\.\d+))(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_FACTORS = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
            "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def quantity_value(text: str) -> float:
    """The number a valid Kubernetes quantity stands for (cores, or bytes)."""
    return _amount(_QUANTITY.fullmatch(text))


def _amount(match) -> float:
    number, suffix = match.groups()
    return float(number) * _FACTORS[suffix or ""]


class Quantity(Type):
    """A Kubernetes quantity (`500m`, `2`, `1Gi`). `bytes`: parsed to a whole number of bytes."""

    def __init__(self, example: str, as_bytes: bool = False) -> None:
        self.example, self.as_bytes = example, as_bytes

    def parse(self, value: Any, mark: Mark, path: str, ctx: Ctx) -> Any:
        text = str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
        match = _QUANTITY.fullmatch(text) if isinstance(text, str) else None
        amount = _amount(match) if match else 0
        if amount <= 0:
            hint = f"e.g. {self.example}"
            m = re.fullmatch(r"^(\d+(?:\.\d+)?)\s*([KMGTPE])B$", text) if isinstance(text, str) else None
            if m:
                hint = f"did you mean '{m[1]}{m[2]}i' or '{m[1]}{m[2]}'?"
            return ctx.problem(mark, path, f"'{value}' is not a Kubernetes quantity", hint)
        return int(amount) if self.as_bytes else text

    def schema(self, defs: dict) -> dict:
        return {"anyOf": [{"type": "string", "pattern": _QUANTITY.pattern}, {"type": "number", "exclusiveMinimum": 0}]}


S3_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/")


class S3Uri(Type):
    """`s3://bucket/prefix`; may start with an expression whose value is one at run time."""

    def parse(self, value: Any, mark: Mark, path: str, ctx: Ctx) -> Any:
        if not isinstance(value, str):
            return ctx.problem(mark, path, f"expected an S3 URI, got {type_name(value)}")
        if not value.startswith(EXPR_OPEN) and not S3_URI.match(value):
            return ctx.problem(mark, path, f"'{value}' is not an S3 URI", "expected s3://bucket/prefix/")
        return value

    def schema(self, defs: dict) -> dict:
        return {"type": "string", "pattern": r"^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/|\{\{)"}

    def texts(self, value: Any, mark: Mark, path: str, keep: Callable[[str], bool]) -> Iterator[tuple[str, Mark, str]]:
        if keep(value):
            yield (path, mark, value)


_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}
# minute, hour, day of month, month, day of week: the bounds of robfig/cron's standard parser, which Argo's
# CronWorkflow controller and Kubernetes' CronJob controller both use (so 7 is not Sunday, and L, W, # are out)
_NO_NAMES: dict[str, int] = {}
_CRON_FIELDS = ((0, 59, _NO_NAMES), (0, 23, _NO_NAMES), (1, 31, _NO_NAMES), (1, 12, _MONTHS), (0, 6, _DAYS))


def cron_is_valid(expression: str) -> bool:
    """Whether a five-field expression is one the cluster's controllers accept."""
    fields = expression.split()
    return len(fields) == 5 and all(all(_cron_part_ok(part, *bounds) for part in field.split(","))
                                    for field, bounds in zip(fields, _CRON_FIELDS))


def _cron_part_ok(part: str, low: int, high: int, names: dict) -> bool:
    span, slash, step = part.partition("/")
    if slash and not (step.isdigit() and int(step) > 0):
        return False
    if span in ("*", "?"):
        return True
    first, dash, last = span.partition("-")
    start, end = _cron_value(first, names), _cron_value(last, names) if dash else None
    if start is None or not low <= start <= high or (dash and (end is None or not start <= end <= high)):
        return False
    return True


_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February's 29th comes every fourth year


def cron_never_fires(expression: str) -> bool:
    """A valid expression whose days of month fall in none of its months (`0 3 30 2 *`, `0 0 31 4,6 *`). Only
    with a day of week of `*` or `?`: robfig/cron ORs a restricted day of week with the day of month."""
    minute, hour, days, months, weekdays = expression.split()
    if weekdays not in ("*", "?"):
        return False
    day_set, month_set = _cron_set(days, *_CRON_FIELDS[2]), _cron_set(months, *_CRON_FIELDS[3])
    return not any(day <= _MONTH_DAYS[month - 1] for day in day_set for month in month_set)


def _cron_set(field: str, low: int, high: int, names: dict) -> set[int]:
    """The values a field of a valid expression names (cron_is_valid held every part to its bounds)."""
    values: set[int] = set()
    for part in field.split(","):
        span, _, step = part.partition("/")
        first, dash, last = span.partition("-")
        every = span in ("*", "?")
        start = low if every else _known(_cron_value(first, names))
        end = high if every or (step and not dash) else _known(_cron_value(last, names)) if dash else start
        values.update(range(start, end + 1, int(step or 1)))
    return values


def _known(value: int | None) -> int:
    if value is None:
        raise ValueError("not a valid cron expression")  # cron_is_valid said it was: a bug
    return value


def _cron_value(text: str, names: dict) -> int | None:
    if text.isdigit():
        return int(text)
    return names.get(text.lower())


class Cron(Type):
    """A five-field cron expression (minute hour day month weekday) or a macro such as @daily."""

    def parse(self, value: Any, mark: Mark, path: str, ctx: Ctx) -> Any:
        if not isinstance(value, str):
            return ctx.problem(mark, path, f"expected a cron expression, got {type_name(value)}", "quote it")
        if value.startswith(("TZ=", "CRON_TZ=")):
            return ctx.problem(mark, path, "a time zone inside the cron expression is not supported",
                               "set schedule.timezone instead")
        if value not in _MACROS:
            if not cron_is_valid(value):
                return ctx.problem(mark, path, f"'{value}' is not a valid cron expression",
                                   "five fields: minute hour day-of-month month day-of-week, e.g. '0 3 * * *'")
            if cron_never_fires(value):
                return ctx.problem(mark, path, f"'{value}' never fires: no month it names has those days",
                                   "check the day of month against the month (February has 28 or 29 days)")
        return value

    def schema(self, defs: dict) -> dict:
        return {"type": "string"}


# abbreviations people write for a zone; an IANA zone (not the fixed-offset `JST` alias) follows its DST rules
_ABBREVIATIONS = {"JST": "Asia/Tokyo", "KST": "Asia/Seoul", "IST": "Asia/Kolkata", "CET": "Europe/Paris",
                  "CEST": "Europe/Paris", "BST": "Europe/London", "GMT": "UTC", "PST": "America/Los_Angeles",
                  "PDT": "America/Los_Angeles", "MST": "America/Denver", "MDT": "America/Denver",
                  "CST": "America/Chicago", "CDT": "America/Chicago", "EST": "America/New_York",
                  "EDT": "America/New_York", "AEST": "Australia/Sydney", "SGT": "Asia/Singapore",
                  "HKT": "Asia/Hong_Kong"}


def _zone_hint(value: str, zones) -> str:
    """The zone an abbreviation stands for, else the closest name by spelling: a 3-letter abbreviation matched by
    spelling names another place (`JST` is not `MST`)."""
    if value.upper() in _ABBREVIATIONS:
        return f"did you mean '{_ABBREVIATIONS[value.upper()]}'?"
    if len(value) <= 4 and value.isalpha():
        return "an IANA name such as Asia/Tokyo or UTC"
    return did_you_mean(value, zones) or "an IANA name such as Asia/Tokyo or UTC"


class TimeZone(Type):
    """An IANA time zone name such as Asia/Tokyo."""

    def parse(self, value: Any, mark: Mark, path: str, ctx: Ctx) -> Any:
        import zoneinfo

        if not isinstance(value, str):
            return ctx.problem(mark, path, f"expected a time zone name, got {type_name(value)}")
        try:
            if value.startswith(("/", ".")) or value == "localtime":
                raise ValueError(value)
            zoneinfo.ZoneInfo(value)
        except (ValueError, zoneinfo.ZoneInfoNotFoundError):
            hint = _zone_hint(value, zoneinfo.available_timezones())
            return ctx.problem(mark, path, f"'{value}' is not a known time zone", hint)
        return value

    def schema(self, defs: dict) -> dict:
        return {"type": "string"}


__all__ = ["INVALID", "Str", "Enum", "Name", "Int", "Bool", "Scalar", "Duration", "Quantity", "S3Uri", "Cron",
           "TimeZone", "quantity_value"]
