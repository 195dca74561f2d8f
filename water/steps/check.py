"""`check`: a data validation gate. The rules (row count, columns and their types, null fractions, ranges,
uniqueness, allowed values, drift against the last passing run's profile) run on DuckDB over the files under
`data` — in the pod over the objects fetched by boto3 into the pod's /tmp, locally over the local folder: the
same SQL, the same numbers, the same verdict. The step writes the data's profile (`profile.json` under `output`),
keeps it under `baseline` when every rule passed (what the next run's drift rules compare with), and fails
listing every failed rule with what it saw and the bound (`onFail: warn`: says so and goes on)."""
from __future__ import annotations

import json
import math
import os
from typing import TYPE_CHECKING, Any

from water.errors import BadInput, JobFailed, StepFailed
from water.spec.fields import List, Map, Model, SpecModel, as_data, field, mark_of
from water.spec.types import PLAIN, Enum, Number, Quantity, S3Uri, Scalar
from water.steps.base import DOCUMENT, NUMBER, Kind, Prepared

if TYPE_CHECKING:
    from water.local.context import StepRun
    from water.runtime.job import Job
    from water.spec.fields import Ctx

MEMORY_LIMIT = "256MB"  # DuckDB's, so a pod stays small whatever the data: past it DuckDB spills to /tmp
CLASSES = 20  # distinct values up to which a column's profile keeps each value's share (categorical drift)
# the data files of each format (`.csv.out`: what SageMaker batch transform writes for a .csv input)
SUFFIXES = {"csv": (".csv", ".csv.gz", ".tsv", ".csv.out"), "parquet": (".parquet",),
            "json": (".json", ".jsonl", ".ndjson")}
READERS = {"csv": "read_csv_auto", "parquet": "read_parquet", "json": "read_json_auto"}
# the column types a `columns` rule may name (Athena's and DuckDB's names) → the DuckDB types that satisfy it;
# a number column may be read as whole numbers (CSV sniffing reads 12.0 as DOUBLE, 12 as BIGINT)
INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
FLOATS = ("FLOAT", "DOUBLE", "DECIMAL", "REAL")
TYPES = {**dict.fromkeys(("tinyint", "smallint", "int", "integer", "bigint"), INTEGERS),
         **dict.fromkeys(("double", "float", "real", "decimal"), INTEGERS + FLOATS),
         **dict.fromkeys(("string", "varchar"), ("VARCHAR",)), "boolean": ("BOOLEAN",), "date": ("DATE",),
         "timestamp": ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE")}


class Bounds(SpecModel):
    """An inclusive range; either end may be left open."""

    min: float = field(Number(), "The least allowed.")
    max: float = field(Number(), "The most allowed.")


class DriftRule(SpecModel):
    """How far a column may move from the last passing run's profile."""

    column: str = field(PLAIN, "The column.", required=True)
    max: float = field(Number(0), "The largest change allowed: of a class's share (a categorical column: one of "
                       f"at most {CLASSES} values), or the PSI over the baseline's deciles (a numeric column).",
                       required=True)


class Rule(SpecModel):
    """One rule: exactly one of these keys."""

    rows: Bounds = field(Model(Bounds), "How many rows.")
    columns: dict = field(Map(PLAIN, Enum(*TYPES)), "Columns that must be present, with their types.")
    nulls: dict = field(Map(PLAIN, Number(0, 1)), "The largest null fraction per column; `\"*\"`: every column not "
                        "named.")
    range: dict = field(Map(PLAIN, Model(Bounds)), "Per column: every value within the bounds.")
    unique: list = field(List(PLAIN, min_items=1), "Columns whose values (together) no two rows share.")
    values: dict = field(Map(PLAIN, List(Scalar(), min_items=1)), "Per column: the values allowed (nulls aside).")
    drift: DriftRule = field(Model(DriftRule), "Drift against the last passing run (no baseline yet: passes, "
                             "saying so).")


RULES = tuple(f.attr for f in Rule.__spec_fields__)


class CheckSpec(SpecModel):
    """Validate data before later steps use it."""

    data: str = field(S3Uri(), "The S3 prefix whose files are checked.", required=True)
    format: str = field(Enum(*SUFFIXES), "How the files are written.", default="csv")
    names: list = field(List(PLAIN, min_items=1), "Column names, for csv files without a header row (such as batch "
                        "transform output, whose files end in .out).")
    rules: list = field(List(Model(Rule), min_items=1), "The rules; every one is checked and reported.",
                        required=True)
    output: str = field(S3Uri(), "Where the profile is written (`profile.json`): `{{steps.NAME.output}}`.",
                        required=True)
    baseline: str = field(S3Uri(), "Where the profile of the last run that passed every rule is kept (a prefix "
                          "without the run id): what drift rules compare with. Required with a drift rule.")
    on_fail: str = field(Enum("fail", "warn"), "fail: the run stops here; warn: say which rules failed and go on.",
                         default="fail")
    max_bytes: int = field(Quantity("1Gi", as_bytes=True), "The most data a pod fetches into its /tmp to check "
                           "(an emptyDir); past it the step fails, saying how much there was.", default="1Gi")


class Check(Kind):
    name = "check"
    spec = CheckSpec
    outputs = {"output": DOCUMENT, "metrics.rows": NUMBER, "metrics.failed": NUMBER}  # DESIGN.md's metrics.KEY

    def prepare(self, config: Any, project_dir: str, path: str, ctx: Ctx) -> Prepared:
        if config.names and config.format != "csv":
            ctx.problem(mark_of(config, "names"), f"{path}.names", f"{config.format} files name their own columns: "
                        "names is for csv files without a header row")
        for i, rule in enumerate(config.rules or ()):
            given = [name for name in RULES if getattr(rule, name) is not None]
            if len(given) != 1:
                ctx.problem(mark_of(rule), f"{path}.rules[{i}]", f"a rule has exactly one of: {', '.join(RULES)}"
                            + (f" (this one has {', '.join(given)})" if given else ""))
            if rule.drift is not None and not config.baseline:
                ctx.problem(mark_of(rule, "drift"), f"{path}.rules[{i}].drift", "a drift rule needs check.baseline: "
                            "where the last passing run's profile is kept")
        return Prepared()

    def run_local(self, sr: StepRun) -> dict:
        spec = as_data(sr.step.config)
        where = sr.resolve(spec["data"])
        data = sr.run.local_path(where)
        files = sorted(os.path.join(folder, name) for folder, _, names in os.walk(data) for name in names
                       if _is_data(name, spec["format"]))
        baseline = _read_json(os.path.join(sr.run.local_path(sr.resolve(spec["baseline"])), PROFILE)) \
            if spec.get("baseline") else None
        output, folder = sr.output_dir(spec["output"])
        verdict = verify(files, spec, where, baseline, sr.run.run_id)
        _write_json(os.path.join(folder, PROFILE), verdict.profile)
        if spec.get("baseline") and verdict.passed:
            _, kept = sr.output_dir(spec["baseline"])
            _write_json(os.path.join(kept, PROFILE), verdict.profile)
        for line in verdict.lines():
            sr.note(line)
        sr.notes.append(verdict.summary())
        if not verdict.passed and spec["onFail"] == "fail":
            raise StepFailed(verdict.message(), sr.log_path)
        return verdict.outputs(_join(output, PROFILE))

    def run_cluster(self, job: Job) -> dict:
        """Fetch the data's objects (at most maxBytes), check them, write the profile; keep it as the baseline
        when every rule passed."""
        import tempfile

        from water.runtime import aws

        spec = job.spec
        s3 = job.client("s3")
        data, output = job.resolve(spec["data"]), _join(job.resolve(spec["output"]), PROFILE)
        kept = _join(job.resolve(spec["baseline"]), PROFILE) if spec.get("baseline") else None
        baseline = _s3_json(s3, kept) if kept else None
        with tempfile.TemporaryDirectory(prefix="water-check-") as folder:
            files = _fetch(s3, data, spec["format"], folder, spec["maxBytes"])
            job.attached(f"checking {len(files)} files under {data}", lambda: None, aws_job=False)
            verdict = verify(files, spec, data, baseline, job.run_id)
        body = json.dumps(verdict.profile, sort_keys=True).encode()
        for uri in [output] + ([kept] if kept and verdict.passed else []):
            bucket, key = aws.s3_parts(uri)
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        for line in verdict.lines():
            print(line, flush=True)
        for failure in verdict.failures:
            job.metrics.increment("water.check.failures", [f"rule:{failure['rule'].split()[0]}"])
        if not verdict.passed and spec["onFail"] == "fail":
            raise JobFailed(verdict.message())
        return verdict.outputs(output)


PROFILE = "profile.json"


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


def verify(files: list, spec: dict, where: str, baseline: dict | None, run_id: str) -> Verdict:
    """Profile the files (`where`: the prefix they came from) and check every rule on DuckDB; `baseline`: the
    last passing run's profile, if any."""
    import duckdb

    fmt = spec["format"]
    if not files:
        raise JobFailed(f"no {fmt} files under {where}")
    con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "threads": 2})
    try:
        con.execute(f"CREATE VIEW data AS SELECT * FROM {READERS[fmt]}([{', '.join(map(_literal, files))}]"
                    + (f", header = false, names = [{', '.join(map(_literal, spec['names']))}])"
                       if spec.get("names") else ")"))
        profile = _profile(con, run_id)
        results = [result for rule in spec["rules"] for result in _check(con, rule, profile, baseline)]
    except duckdb.Error as exc:
        raise JobFailed(f"cannot read the {fmt} files under {where}: "
                        f"{str(exc).splitlines()[0]}") from None
    finally:
        con.close()
    return Verdict(profile, results)


def _literal(text: str) -> str:
    """A text as an SQL string literal (a view's definition takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def _q(name: str) -> str:
    """A column as an SQL identifier: quoted, so that no name is ever SQL."""
    return '"' + name.replace('"', '""') + '"'


def _profile(con: Any, run_id: str) -> dict:
    """Per column: type, count, nulls, distinct, min/max/mean and deciles (numbers), shares (few values)."""
    described = con.execute("DESCRIBE SELECT * FROM data").fetchall()
    rows = con.execute("SELECT count(*) FROM data").fetchone()[0]
    columns = {}
    for name, kind, *_ in described:
        col = _q(name)
        count, distinct = con.execute(f"SELECT count({col}), count(DISTINCT {col}) FROM data").fetchone()
        entry: dict = {"type": kind, "count": count, "nulls": rows - count, "distinct": distinct}
        if kind in INTEGERS + FLOATS or kind.startswith("DECIMAL"):
            low, high, mean, deciles = con.execute(
                f"SELECT min({col}), max({col}), avg({col}), quantile_cont({col}, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, "
                f"0.7, 0.8, 0.9]) FROM data").fetchone()
            entry.update(min=_num(low), max=_num(high), mean=_num(mean), deciles=[_num(d) for d in deciles or []])
            edges = sorted({d for d in entry["deciles"] if d is not None})
            entry["bins"] = {"edges": edges, "shares": _bin_shares(con, name, edges)}
        if 0 < distinct <= CLASSES and kind not in FLOATS:
            shares = con.execute(f"SELECT CAST({col} AS VARCHAR), count(*) FROM data WHERE {col} IS NOT NULL "
                                 "GROUP BY 1 ORDER BY 1").fetchall()
            entry["shares"] = {value: round(n / count, 6) for value, n in shares}
        columns[name] = entry
    return {"run": run_id, "rows": rows, "columns": columns}


def _bin_shares(con: Any, name: str, edges: list) -> list:
    """The share of a column's values in each bin the edges make: (-inf, e1], (e1, e2], ..., (en, inf)."""
    col = _q(name)
    cases = [f"sum(CASE WHEN {col} <= ? THEN 1 ELSE 0 END)" for _ in edges]
    counts = con.execute(f"SELECT count({col}){''.join(', ' + c for c in cases)} FROM data", edges).fetchone()
    total, below = counts[0], [*counts[1:], counts[0]]
    if not total:
        return [0.0] * (len(edges) + 1)
    return [round((b - a) / total, 6) for a, b in zip([0, *below[:-1]], below)]


def _num(value: Any) -> float | None:
    return None if value is None else round(float(value), 6)


def _result(rule: str, passed: bool, said: str) -> dict:
    return {"rule": rule, "passed": passed, "said": said}


def _within(value: float, bounds: dict) -> bool:
    return ("min" not in bounds or value >= bounds["min"]) and ("max" not in bounds or value <= bounds["max"])


def _bounds(bounds: dict) -> str:
    return " and ".join(f"{'at least' if k == 'min' else 'at most'} {v:g}" for k, v in bounds.items())


def _check(con: Any, rule: dict, profile: dict, baseline: dict | None) -> list:
    (kind, arg), = rule.items()
    columns = profile["columns"]

    def missing(name: str) -> dict | None:
        return None if name in columns else _result(f"{kind} {name}", False, "no such column")

    if kind == "rows":
        return [_result("rows", _within(profile["rows"], arg), f"{profile['rows']} rows, {_bounds(arg)}")]
    if kind == "columns":
        return [missing(name) or _result(f"columns {name}", columns[name]["type"] in TYPES[wanted],
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
        cols = ", ".join(_q(n) for n in arg)
        repeated = con.execute(f"SELECT count(*) - count(DISTINCT ({cols})) FROM data").fetchone()[0]
        return [_result(f"unique {', '.join(arg)}", repeated == 0, f"{repeated} rows repeat another's values")]
    if kind == "values":
        return [missing(name) or _values_result(con, name, columns[name], allowed) for name, allowed in arg.items()]
    return [missing(arg["column"]) or _drift_result(con, arg["column"], columns[arg["column"]], baseline, arg["max"])]


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


def _values_result(con: Any, name: str, column: dict, allowed: list) -> dict:
    numeric = "min" in column and all(_is_number(v) for v in allowed)
    value = _q(name) if numeric else f"CAST({_q(name)} AS VARCHAR)"
    given = [float(v) for v in allowed] if numeric else [str(v) for v in allowed]
    marks = ", ".join("?" for _ in given)
    other, sample = con.execute(f"SELECT count(*), min(CAST({_q(name)} AS VARCHAR)) FROM data WHERE {_q(name)} IS NOT "
                                f"NULL AND {value} NOT IN ({marks})", given).fetchone()
    return _result(f"values {name}", other == 0, f"{other} rows outside {', '.join(map(str, allowed))}"
                   + (f" (e.g. {sample})" if other else ""))


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _drift_result(con: Any, name: str, column: dict, baseline: dict | None, bound: float) -> dict:
    rule = f"drift {name}"
    before = (baseline or {}).get("columns", {}).get(name)
    if before is None:
        return _result(rule, True, "no baseline yet (no earlier passing run profiled this column): nothing to "
                       "compare with")
    against = f"against run {baseline.get('run', '?')}" if baseline else ""
    if "shares" in before:
        now = column.get("shares") or {}
        change, value = max((abs(now.get(v, 0.0) - before["shares"].get(v, 0.0)), v)
                            for v in {*now, *before["shares"]})
        return _result(rule, change <= bound, f"the largest change of a class's share is {change:.4g} (class {value}) "
                       f"{against}, at most {bound:g}")
    if before.get("bins") and "bins" in column:
        psi = _psi(before["bins"]["shares"], _bin_shares(con, name, before["bins"]["edges"]))
        return _result(rule, psi <= bound, f"PSI {psi:.4g} over the baseline's deciles {against}, at most {bound:g}")
    return _result(rule, False, f"cannot compare {column['type']} with the baseline's {before.get('type')}")


def _psi(expected: list, actual: list) -> float:
    """The population stability index: sum over the bins of (actual - expected) * ln(actual / expected), an
    empty bin counted as 0.0001 so that the logarithm stays finite."""
    eps = 1e-4
    return sum((max(a, eps) - max(e, eps)) * math.log(max(a, eps) / max(e, eps)) for e, a in zip(expected, actual))


def _is_data(name: str, fmt: str) -> bool:
    return not name.startswith(("_", ".")) and name.lower().endswith(SUFFIXES[fmt])


def _join(prefix: str, name: str) -> str:
    return prefix.rstrip("/") + "/" + name if prefix else name


def _fetch(s3: Any, uri: str, fmt: str, folder: str, limit: int) -> list:
    """The data files under an S3 prefix, downloaded into `folder`; refused past `limit` bytes."""
    from water.runtime import aws

    bucket = aws.s3_parts(uri)[0]
    found = [obj for obj in aws.data_objects(s3, uri) if _is_data(obj["Key"].rsplit("/", 1)[-1], fmt)]
    total = sum(obj["Size"] for obj in found)
    if total > limit:
        raise JobFailed(f"{uri} holds {total:,} bytes of {fmt} files, more than check.maxBytes ({limit:,}) a pod "
                        "fetches to check")
    files = []
    for i, obj in enumerate(found):
        path = os.path.join(folder, f"{i:06d}-{obj['Key'].rsplit('/', 1)[-1]}")
        s3.download_file(bucket, obj["Key"], path)
        files.append(path)
    return files


def _s3_json(s3: Any, uri: str) -> dict | None:
    from water.runtime import aws

    bucket, key = aws.s3_parts(uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    try:
        return json.loads(body)
    except ValueError:
        raise BadInput(f"{uri} is not a profile water wrote (not JSON)") from None


def _read_json(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def _write_json(path: str, data: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, sort_keys=True, indent=1)


KIND = Check()
