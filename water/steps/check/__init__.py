"""`check`: a data validation gate. The rules (row count, columns and their types, null fractions, ranges,
uniqueness, allowed values, drift against the last passing run's profile) run as SQL (water.steps.check.rules):
over the files under `data` on DuckDB — in the pod over the objects fetched by boto3 into the pod's /tmp, locally
over the local folder; over an Athena `table` in Athena itself — locally on DuckDB over spec.local.tables. The
same queries, the same numbers, the same verdict. The step writes the data's profile (`profile.json` under
`output`), keeps it under `baseline` when every rule passed (what the next run's drift rules compare with), and
fails listing every failed rule with what it saw and the bound (`onFail: warn`: says so and goes on)."""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from water.errors import BadInput, JobFailed, StepFailed
from water.spec.fields import List, Map, Model, SpecModel, as_data, field, is_set, mark_of
from water.spec.types import PLAIN, TEXT, Enum, Number, Quantity, S3Uri, Scalar, Str
from water.steps import queries
from water.steps.base import DOCUMENT, NUMBER, Kind, Prepared
from water.steps.check import engines
from water.steps.check.rules import CLASSES, TYPES, Verdict

if TYPE_CHECKING:
    from water.local.context import StepRun
    from water.runtime.job import Job
    from water.spec.fields import Ctx


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


class TableRef(SpecModel):
    """An Athena table, and the rows of it a check reads."""

    database: str = field(Str(r"^[A-Za-z0-9_-]{1,255}$", "a Glue database name"), "Its Glue Data Catalog database.",
                          required=True)
    name: str = field(Str(r"^[A-Za-z0-9_]{1,255}$", "a Glue table name"), "The table.", required=True)
    where: str = field(TEXT, "An Athena (Trino) condition choosing the rows checked, such as a partition: "
                       "`dt = {{run.date}}`; its expressions become query parameters.")
    workgroup: str = field(PLAIN, "The Athena workgroup.", default="primary")


class CheckSpec(SpecModel):
    """Validate data before later steps use it."""

    data: str = field(S3Uri(), "The S3 prefix whose files are checked (or `table`).")
    table: TableRef = field(Model(TableRef), "The Athena table whose rows are checked, in Athena (or `data`): only "
                            "the answers leave it. Locally from spec.local.tables.")
    format: str = field(Enum(*engines.SUFFIXES), "How the files are written.", default="csv")
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
        self._source(config, path, ctx)
        for i, rule in enumerate(config.rules or ()):
            given = [name for name in RULES if getattr(rule, name) is not None]
            if len(given) != 1:
                ctx.problem(mark_of(rule), f"{path}.rules[{i}]", f"a rule has exactly one of: {', '.join(RULES)}"
                            + (f" (this one has {', '.join(given)})" if given else ""))
            if rule.drift is not None and not config.baseline:
                ctx.problem(mark_of(rule, "drift"), f"{path}.rules[{i}].drift", "a drift rule needs check.baseline: "
                            "where the last passing run's profile is kept")
        return Prepared()

    def _source(self, config: Any, path: str, ctx: Ctx) -> None:
        """Exactly one of data and table; the fields of files only with data."""
        if bool(config.data) == bool(config.table):
            ctx.problem(mark_of(config, "table") if config.table else mark_of(config), path,
                        "a check reads exactly one of: data (an S3 prefix of files), table (an Athena table)")
            return
        for key in ("format", "names", "maxBytes") if config.table else ():
            attr = next(f.attr for f in CheckSpec.__spec_fields__ if f.key == key)
            if is_set(config, attr):
                ctx.problem(mark_of(config, attr), f"{path}.{key}", f"{key} is for a check of data files, not of "
                            "a table")
        if config.names and config.format != "csv":
            ctx.problem(mark_of(config, "names"), f"{path}.names", f"{config.format} files name their own columns: "
                        "names is for csv files without a header row")
        if config.table and config.table.where:
            queries.refuse_quoted(config.table.where, None, mark_of(config.table, "where"), f"{path}.table.where",
                                  ctx)

    def inputs(self, spec: dict, resolve: Any) -> list:
        return [resolve(spec["data"])] if spec.get("data") else []

    def run_local(self, sr: StepRun) -> dict:
        spec = as_data(sr.step.config)
        baseline = _read_json(os.path.join(sr.run.local_path(sr.resolve(spec["baseline"])), PROFILE)) \
            if spec.get("baseline") else None
        output, folder = sr.output_dir(spec["output"])
        if spec.get("table"):
            verdict = engines.check_local_table(spec, sr.run.pipeline.spec.local.tables, sr.project_dir,
                                                _condition(spec, sr.resolve), baseline, sr.run.run_id)
        else:
            where = sr.resolve(spec["data"])
            data = sr.run.local_path(where)
            files = sorted(os.path.join(root, name) for root, _, names in os.walk(data) for name in names
                           if engines.is_data(name, spec["format"]))
            verdict = engines.check_files(files, spec, where, baseline, sr.run.run_id)
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
        """Check the table in Athena, or fetch the data's objects (at most maxBytes) and check them; write the
        profile, and keep it as the baseline when every rule passed."""
        from water.runtime import aws

        spec = job.spec
        s3 = job.client("s3")
        prefix = job.resolve(spec["output"])
        output = _join(prefix, PROFILE)
        kept = _join(job.resolve(spec["baseline"]), PROFILE) if spec.get("baseline") else None
        baseline = _s3_json(s3, kept) if kept else None
        if spec.get("table"):
            table = engines.AthenaTable(job, spec, _join(prefix, "athena/"), _condition(spec, job.resolve))
            verdict = table.verdict(baseline, job.run_id)
        else:
            verdict = _check_objects(job, s3, job.resolve(spec["data"]), baseline)
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

    def permissions(self, step: Any, scope: Any) -> list:
        """The data read (or the table, through Athena, its results under output/athena/), the profile written,
        the baseline read and kept."""
        from water import permissions as iam

        config, name = step.config, iam.sid(step.name)
        kept = [config.output] + ([config.baseline] if config.baseline else [])
        if config.table:
            return [*queries.athena_access(scope, name, config.table.workgroup, config.table.database,
                                           [_join(config.output, "athena/")]), *iam.s3_access(scope, name, kept,
                                                                                              write=True)]
        return [*iam.s3_access(scope, f"{name}Data", [config.data]), *iam.s3_access(scope, name, kept, write=True)]


PROFILE = "profile.json"


def _check_objects(job: Job, s3: Any, data: str, baseline: dict | None) -> Verdict:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="water-check-") as folder:
        files = _fetch(s3, data, job.spec["format"], folder, job.spec["maxBytes"])
        job.attached(f"checking {len(files)} files under {data}", lambda: None, aws_job=False)
        return engines.check_files(files, job.spec, data, baseline, job.run_id)


def _condition(spec: dict, resolve: Callable[[str], str]) -> tuple[str, list]:
    """The table's `where` with `?` for its expressions, and their values: ('', []) without one."""
    return queries.bind(spec["table"]["where"], resolve) if spec["table"].get("where") else ("", [])


def _join(prefix: str, name: str) -> str:
    return prefix.rstrip("/") + "/" + name if prefix else name


def _fetch(s3: Any, uri: str, fmt: str, folder: str, limit: int) -> list:
    """The data files under an S3 prefix, downloaded into `folder`; refused past `limit` bytes."""
    from water.runtime import aws

    bucket = aws.s3_parts(uri)[0]
    found = [obj for obj in aws.data_objects(s3, uri) if engines.is_data(obj["Key"].rsplit("/", 1)[-1], fmt)]
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
