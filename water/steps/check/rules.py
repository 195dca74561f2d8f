"""A check's rules as SQL, and the verdict. Two queries, whichever engine runs them: the first asks for every
number the rules and the profile need (rows; per column its count, distinct values, min/max/mean and deciles;
what each unique and values rule finds), the second for the distributions that depend on the first's answer
(each few-valued column's class counts; each number column's counts in the bins of its own deciles and of the
baseline's), as one row of histograms — each query one pass over the data. The SQL is written for DuckDB
(files, local tables) or for Athena's Trino; values are always parameters (`?`). An engine answers rows (DuckDB
typed, Athena as text); the profile and the verdict are made here from them, the same for both."""
from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

CLASSES = 20  # distinct values up to which a column's profile keeps each value's share (categorical drift)
DECILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# the column types a `columns` rule may name (Athena's and DuckDB's names) → the types (DuckDB's names, which
# the profile keeps whichever engine ran) that satisfy it; a number column may be read as whole numbers (CSV
# sniffing reads 12.0 as DOUBLE, 12 as BIGINT)
INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
FLOATS = ("FLOAT", "DOUBLE", "DECIMAL", "REAL")
TYPES = {**dict.fromkeys(("tinyint", "smallint", "int", "integer", "bigint"), INTEGERS),
         **dict.fromkeys(("double", "float", "real", "decimal"), INTEGERS + FLOATS),
         **dict.fromkeys(("string", "varchar"), ("VARCHAR",)), "boolean": ("BOOLEAN",), "date": ("DATE",),
         "timestamp": ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE")}
# Glue Data Catalog (Hive) type names → DuckDB's, so that a table's profile reads like a file's
CATALOG_TYPES = {"tinyint": "TINYINT", "smallint": "SMALLINT", "int": "INTEGER", "integer": "INTEGER",
                 "bigint": "BIGINT", "float": "FLOAT", "real": "FLOAT", "double": "DOUBLE", "string": "VARCHAR",
                 "varchar": "VARCHAR", "char": "VARCHAR", "boolean": "BOOLEAN", "date": "DATE",
                 "timestamp": "TIMESTAMP", "binary": "BLOB"}
# a column's nine deciles from one aggregate state (nine calls would hold nine copies of the column: DuckDB's
# exact quantile keeps every value). DuckDB's are exact (interpolated) and answer a list; Athena's
# approx_percentile approximate (Trino's, within about 1% of rank), an array Athena answers as text: [1.5, 2.0]
DECILES_SQL = {"duckdb": "quantile_cont({col}, [{ps}])", "trino": "approx_percentile(CAST({col} AS DOUBLE), "
               "ARRAY[{ps}])"}
# a histogram comes back as a MAP (DuckDB's Python answers a dict; no JSON extension loaded in the pod) or, from
# Athena whose answers are text, as JSON
HISTOGRAM = {"duckdb": "histogram({value}) FILTER (WHERE {col} IS NOT NULL)",
             "trino": "json_format(CAST(histogram({value}) FILTER (WHERE {col} IS NOT NULL) AS JSON))"}


def base_type(kind: str) -> str:
    return re.split(r"[(<\[]", kind)[0].strip().upper()


def is_number(kind: str) -> bool:
    return base_type(kind) in INTEGERS + FLOATS


def is_nested(kind: str) -> bool:
    """Lists, maps and structs: counted, never compared (Athena cannot count distinct maps)."""
    return any(c in kind for c in "<[") or base_type(kind) in ("STRUCT", "MAP", "LIST", "ARRAY", "ROW", "UNION")


def catalog_type(glue_type: str) -> str:
    """A Glue column type as DuckDB names it: decimal(10,2) → DECIMAL(10,2), string → VARCHAR."""
    text = glue_type.strip().lower()
    base = re.split(r"[(<]", text)[0].strip()
    if base == "decimal":
        return "DECIMAL" + text[len(base):].replace(" ", "").upper()
    return CATALOG_TYPES.get(base, glue_type.strip().upper())


def q(name: str) -> str:
    """A column as an SQL identifier: quoted, so that no name is ever SQL."""
    return '"' + name.replace('"', '""') + '"'


class Plan:
    """The queries of one check over one relation (`relation`: its SQL and parameters, e.g. a view's name, or a
    table with the rows the check is about) whose columns are `columns` ((name, type) in order)."""

    def __init__(self, dialect: str, relation: tuple[str, list], columns: list, rules: list,
                 baseline: dict | None) -> None:
        self.dialect, self.relation, self.columns, self.rules = dialect, relation, columns, rules
        self.baseline = baseline
        self.types = dict(columns)

    def measures(self) -> list:
        """(key, SQL, parameters) of every number the first query asks for."""
        found: list = [(("rows",), "count(*)", [])]
        for name, kind in self.columns:
            col = q(name)
            found.append((("count", name), f"count({col})", []))
            if not is_nested(kind):
                found.append((("distinct", name), f"count(DISTINCT {col})", []))
            if is_number(kind):
                found += [(("min", name), f"min({col})", []), (("max", name), f"max({col})", []),
                          (("mean", name), f"avg({col})", [])]
                found.append((("deciles", name), DECILES_SQL[self.dialect].format(
                    col=col, ps=", ".join(map(str, DECILES))), []))
        for i, rule in enumerate(self.rules):
            (kind, arg), = rule.items()
            if kind == "unique" and all(n in self.types for n in arg):
                cols = ", ".join(q(n) for n in arg)
                found.append((("groups", i), f"(SELECT count(*) FROM (SELECT {cols} FROM {self.relation[0]} GROUP "
                              f"BY {cols}) AS groups)", list(self.relation[1])))
            if kind == "values":
                for name, allowed in arg.items():
                    if name in self.types:
                        found += self._outside(i, name, allowed)
        return found

    def _outside(self, i: int, name: str, allowed: list) -> list:
        """The rows of a column outside its allowed values, and the least of them (as text)."""
        numeric = is_number(self.types[name]) and all(_is_number(v) for v in allowed)
        value = q(name) if numeric else f"CAST({q(name)} AS VARCHAR)"
        given = [float(v) for v in allowed] if numeric else [str(v) for v in allowed]
        outside = f"{q(name)} IS NOT NULL AND {value} NOT IN ({', '.join('?' for _ in given)})"
        return [(("outside", i, name), f"sum(CASE WHEN {outside} THEN 1 ELSE 0 END)", given),
                (("sample", i, name), f"min(CASE WHEN {outside} THEN CAST({q(name)} AS VARCHAR) END)", given)]

    def spreads(self, numbers: dict) -> list:
        """(key, SQL, parameters) of the second query's histograms, given the first query's numbers."""
        found: list = []
        for name, kind in self.columns:
            distinct = numbers.get(("distinct", name))
            if distinct and distinct <= CLASSES and base_type(kind) not in FLOATS:
                found.append((("shares", name), self._histogram(name, f"CAST({q(name)} AS VARCHAR)"), []))
            if is_number(kind) and _edges(numbers, name):
                found.append((("bins", name), *self._bins(name, _edges(numbers, name))))
            before = ((self.baseline or {}).get("columns") or {}).get(name) or {}
            if is_number(kind) and (before.get("bins") or {}).get("edges") and self._drifts(name):
                found.append((("against", name), *self._bins(name, before["bins"]["edges"])))
        return found

    def _drifts(self, name: str) -> bool:
        return any("drift" in rule and rule["drift"]["column"] == name for rule in self.rules)

    def _histogram(self, name: str, value: str) -> str:
        return HISTOGRAM[self.dialect].format(value=value, col=q(name))

    def _bins(self, name: str, edges: list) -> tuple[str, list]:
        """The bin of each value: (-inf, e1] is 0, (e1, e2] is 1, ..., (en, inf) is n."""
        cases = " ".join(f"WHEN {q(name)} <= ? THEN {i}" for i in range(len(edges)))
        return self._histogram(name, f"CASE {cases} ELSE {len(edges)} END"), [float(e) for e in edges]

    def select(self, parts: list) -> tuple[str, list]:
        """One SELECT of the parts (key, SQL, parameters) over the relation: its text and parameters in order."""
        text = ", ".join(f"{sql} AS m{i}" for i, (_, sql, _) in enumerate(parts))
        params = [p for _, _, given in parts for p in given]
        return f"SELECT {text} FROM {self.relation[0]}", params + list(self.relation[1])


def read(parts: list, row: tuple) -> dict:
    """The answer of a SELECT of `parts` as {key: value}: numbers as numbers (Athena answers text), histograms as
    {value: count}, samples as text."""
    found: dict = {}
    for (key, _, _), value in zip(parts, row):
        if key[0] in ("shares", "bins", "against"):
            counts = value if isinstance(value, dict) else json.loads(value) if value else {}
            found[key] = {str(k): int(n) for k, n in counts.items()}
        elif key[0] == "deciles":
            listed = value if isinstance(value, list) else json.loads(value) if value else []
            found[key] = [_num(v) for v in listed] or [None] * len(DECILES)
        elif key[0] == "sample":
            found[key] = None if value is None else str(value)
        elif key[0] in ("rows", "count", "distinct", "groups", "outside"):
            found[key] = int(value or 0)
        else:
            found[key] = _num(value)
    return found


def measure(plan: Plan, run: Callable[[str, list], tuple]) -> dict:
    """Every number of a plan: `run(sql, params)` answers one query's one row."""
    first = plan.measures()
    numbers = read(first, run(*plan.select(first)))
    second = plan.spreads(numbers)
    return {**numbers, **(read(second, run(*plan.select(second))) if second else {})}


def _edges(numbers: dict, name: str) -> list:
    return sorted({d for d in numbers.get(("deciles", name), ()) if d is not None})


def _num(value: Any) -> float | None:
    return None if value is None else round(float(value), 6)


def _is_number(text: Any) -> bool:
    try:
        float(text)
        return True
    except (TypeError, ValueError):
        return False


def profile(plan: Plan, numbers: dict, run_id: str) -> dict:
    """Per column: type, count, nulls, distinct, min/max/mean, deciles and their bins' shares (numbers), each
    value's share (few values)."""
    rows = numbers[("rows",)]
    columns = {}
    for name, kind in plan.columns:
        count = numbers[("count", name)]
        entry: dict = {"type": kind, "count": count, "nulls": rows - count, "distinct": numbers.get(("distinct", name))}
        if is_number(kind):
            entry.update(min=numbers[("min", name)], max=numbers[("max", name)], mean=numbers[("mean", name)],
                         deciles=numbers[("deciles", name)])
            edges = _edges(numbers, name)
            entry["bins"] = {"edges": edges, "shares": bin_shares(numbers.get(("bins", name), {}), len(edges), count)}
        if ("shares", name) in numbers:
            entry["shares"] = {value: round(n / count, 6) for value, n in sorted(numbers[("shares", name)].items())}
        columns[name] = entry
    return {"run": run_id, "rows": rows, "columns": columns}


def bin_shares(counts: dict, edges: int, total: int) -> list:
    """The share of a column's values in each of the edges + 1 bins, from the count of each bin's index."""
    return [round(counts.get(str(i), 0) / total, 6) if total else 0.0 for i in range(edges + 1)]


class Verdict:
    """What a check found: the data's profile and each rule's result."""

    def __init__(self, profile: dict, results: list) -> None:
        self.profile, self.results = profile, results

    @property
    def failures(self) -> list:
        return [r for r in self.results if not r["passed"]]

    @property
    def passed(self) -> bool:
        return not self.failures

    def lines(self) -> list:
        return [f"{'ok' if r['passed'] else 'FAILED'} {r['rule']}: {r['said']}" for r in self.results]

    def summary(self) -> str:
        failed = self.failures
        return (f"{len(self.results) - len(failed)} of {len(self.results)} rules passed over {self.profile['rows']} "
                "rows" + (f"; failed: {'; '.join(r['rule'] + ': ' + r['said'] for r in failed)}" if failed else ""))

    def message(self) -> str:
        failed = self.failures
        return f"{len(failed)} of {len(self.results)} rules failed: " + "; ".join(
            f"{r['rule']}: {r['said']}" for r in failed)

    def outputs(self, profile_uri: str) -> dict:
        return {"output": profile_uri, "metrics.rows": self.profile["rows"], "metrics.failed": len(self.failures)}


def verdict(plan: Plan, numbers: dict, run_id: str) -> Verdict:
    """The profile and every rule's result, from a plan's numbers."""
    made = profile(plan, numbers, run_id)
    return Verdict(made, [result for i, rule in enumerate(plan.rules)
                          for result in _check(i, rule, made, numbers, plan.baseline)])


def _result(rule: str, passed: bool, said: str) -> dict:
    return {"rule": rule, "passed": passed, "said": said}


def _within(value: float, bounds: dict) -> bool:
    return ("min" not in bounds or value >= bounds["min"]) and ("max" not in bounds or value <= bounds["max"])


def _bounds(bounds: dict) -> str:
    return " and ".join(f"{'at least' if k == 'min' else 'at most'} {v:g}" for k, v in bounds.items())


def _check(i: int, rule: dict, profile: dict, numbers: dict, baseline: dict | None) -> list:
    (kind, arg), = rule.items()
    columns = profile["columns"]

    def missing(name: str) -> dict | None:
        return None if name in columns else _result(f"{kind} {name}", False, "no such column")

    if kind == "rows":
        return [_result("rows", _within(profile["rows"], arg), f"{profile['rows']} rows, {_bounds(arg)}")]
    if kind == "columns":
        return [missing(name) or _result(f"columns {name}", base_type(columns[name]["type"]) in TYPES[wanted],
                                         f"{columns[name]['type']}, expected {wanted}") for name, wanted in arg.items()]
    if kind == "nulls":
        named = [n for n in arg if n != "*"]
        checked = [(n, arg[n]) for n in named] + [(n, arg["*"]) for n in columns if "*" in arg and n not in named]
        return [missing(name) or _null_result(name, columns[name], profile["rows"], bound) for name, bound in checked]
    if kind == "range":
        return [missing(name) or _range_result(name, columns[name], bounds) for name, bounds in arg.items()]
    if kind == "unique":
        absent = [n for n in arg if n not in columns]
        if absent:
            return [_result(f"unique {', '.join(arg)}", False, f"no such column: {', '.join(absent)}")]
        repeated = profile["rows"] - numbers[("groups", i)]
        return [_result(f"unique {', '.join(arg)}", repeated == 0, f"{repeated} rows repeat another's values")]
    if kind == "values":
        return [missing(name) or _values_result(name, allowed, numbers[("outside", i, name)],
                                                numbers[("sample", i, name)]) for name, allowed in arg.items()]
    name = arg["column"]
    return [missing(name) or _drift_result(name, columns[name], baseline, arg["max"], numbers.get(("against", name)))]


def _null_result(name: str, column: dict, rows: int, bound: float) -> dict:
    share = column["nulls"] / rows if rows else 0.0
    return _result(f"nulls {name}", share <= bound, f"{share:.4g} null ({column['nulls']} of {rows}), at most {bound:g}")


def _range_result(name: str, column: dict, bounds: dict) -> dict:
    if "min" not in column:
        return _result(f"range {name}", False, f"{column['type']} is not a number column")
    if column["min"] is None:
        return _result(f"range {name}", True, "no values")
    ok = _within(column["min"], bounds) and _within(column["max"], bounds)
    return _result(f"range {name}", ok, f"{column['min']:g} to {column['max']:g}, {_bounds(bounds)}")


def _values_result(name: str, allowed: list, other: int, sample: str | None) -> dict:
    return _result(f"values {name}", other == 0, f"{other} rows outside {', '.join(map(str, allowed))}"
                   + (f" (e.g. {sample})" if other else ""))


def _drift_result(name: str, column: dict, baseline: dict | None, bound: float, against: dict | None) -> dict:
    rule = f"drift {name}"
    before = (baseline or {}).get("columns", {}).get(name)
    if before is None:
        return _result(rule, True, "no baseline yet (no earlier passing run profiled this column): nothing to "
                       "compare with")
    since = f"against run {baseline.get('run', '?')}" if baseline else ""
    if "shares" in before:
        now = column.get("shares") or {}
        change, value = max((abs(now.get(v, 0.0) - before["shares"].get(v, 0.0)), v)
                            for v in {*now, *before["shares"]})
        return _result(rule, change <= bound, f"the largest change of a class's share is {change:.4g} (class {value}) "
                       f"{since}, at most {bound:g}")
    if against is not None:
        psi = _psi(before["bins"]["shares"], bin_shares(against, len(before["bins"]["edges"]), column["count"]))
        return _result(rule, psi <= bound, f"PSI {psi:.4g} over the baseline's deciles {since}, at most {bound:g}")
    return _result(rule, False, f"cannot compare {column['type']} with the baseline's {before.get('type')}")


def _psi(expected: list, actual: list) -> float:
    """The population stability index: sum over the bins of (actual - expected) * ln(actual / expected), an
    empty bin counted as 0.0001 so that the logarithm stays finite."""
    eps = 1e-4
    return sum((max(a, eps) - max(e, eps)) * math.log(max(a, eps) / max(e, eps)) for e, a in zip(expected, actual))
