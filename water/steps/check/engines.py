"""Where a check's two queries run (water.steps.check.rules writes them): DuckDB over data files — in the pod over
the objects fetched from S3, locally over the local folder — or over the local stand-ins of Athena's tables; and
Athena itself, over a table of the Glue Data Catalog, where only the answers (numbers and histograms) leave it."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from water.errors import JobFailed
from water.steps import queries
from water.steps.check import rules

if TYPE_CHECKING:
    from water.runtime.job import Job

# DuckDB's, so a pod stays small whatever the data: past it hash tables spill to /tmp, while the exact deciles
# (quantile_cont keeps every value of a number column) fail the step saying so
MEMORY_LIMIT = "256MB"
# the data files of each format (`.csv.out`: what SageMaker batch transform writes for a .csv input)
SUFFIXES = {"csv": (".csv", ".csv.gz", ".tsv", ".csv.out"), "parquet": (".parquet",),
            "json": (".json", ".jsonl", ".ndjson")}


def is_data(name: str, fmt: str) -> bool:
    return not name.startswith(("_", ".")) and name.lower().endswith(SUFFIXES[fmt])


def check_files(files: list, spec: dict, where: str, baseline: dict | None, run_id: str) -> rules.Verdict:
    """The verdict over data files (`where`: the prefix they came from, for messages), on DuckDB."""
    import duckdb

    fmt = spec["format"]
    if not files:
        raise JobFailed(f"no {fmt} files under {where}")
    with _duckdb() as con:
        try:
            con.execute(f"CREATE VIEW data AS SELECT * FROM {queries.READERS[fmt]}([{', '.join(map(queries.string_literal, files))}]"
                        + (f", header = false, names = [{', '.join(map(queries.string_literal, spec['names']))}])"
                           if spec.get("names") else ")"))
            return _verdict(con, "data", ("data", []), spec, baseline, run_id)
        except duckdb.OutOfMemoryException as exc:
            raise JobFailed(f"checking the {fmt} files under {where} needs more than DuckDB's {MEMORY_LIMIT} "
                            f"({str(exc).splitlines()[0]}): exact deciles keep every value of each number column "
                            "(8 bytes a value, about 30 million values in all)") from None
        except duckdb.Error as exc:
            raise JobFailed(f"cannot read the {fmt} files under {where}: {str(exc).splitlines()[0]}") from None


def check_local_table(spec: dict, tables: dict, project_dir: str, condition: tuple[str, list],
                      baseline: dict | None, run_id: str) -> rules.Verdict:
    """The verdict over the local stand-in of an Athena table (spec.local.tables), on DuckDB; `condition`: the
    `where` in Athena's SQL with its parameters' values, transpiled to DuckDB's as the athena kind's local runs
    are."""
    import duckdb

    table = _name(spec["table"])
    with _duckdb() as con:
        queries.create_tables(con, tables, project_dir, spec["table"]["database"])
        try:
            relation = _relation(table, condition, lambda sql: queries.to_duckdb(sql, "check.table.where"))
            return _verdict(con, table, relation, spec, baseline, run_id)
        except duckdb.Error as exc:
            raise queries.local_failure(exc, tables, "the check's queries") from None


def _name(table: dict) -> str:
    return f"{rules.q(table['database'])}.{rules.q(table['name'])}"


def _duckdb() -> Any:
    import duckdb

    return duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "threads": 2})


def _relation(table: str, condition: tuple[str, list], dialect: Callable[[str], str] = str) -> tuple[str, list]:
    """What a check's queries read (SQL and its parameters): the table, or its rows `where` (Athena's SQL and
    values) chooses, written in the engine's dialect by `dialect`."""
    where, values = condition
    return (f"({dialect(f'SELECT * FROM {table} WHERE {where}')}) AS data", values) if where else (table, [])


def _verdict(con: Any, table: str, relation: tuple[str, list], spec: dict, baseline: dict | None,
             run_id: str) -> rules.Verdict:
    columns = [(name, kind) for name, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()]
    plan = rules.Plan("duckdb", relation, columns, spec["rules"], baseline)
    return rules.verdict(plan, rules.measure(plan, lambda sql, params: con.execute(sql, params).fetchone()), run_id)


class AthenaTable:
    """A table of the Glue Data Catalog, its rows checked by Athena: the columns from Glue's GetTable, each query
    started with an idempotency token of its own (a lost answer re-sent starts no second query), waited for,
    stopped if the step is, and read from GetQueryResults."""

    def __init__(self, job: Job, spec: dict, results: str, condition: tuple[str, list]) -> None:
        self.job, self.spec, self.results, self.condition = job, spec, results, condition
        self.started = 0

    def columns(self) -> list:
        """(name, type as DuckDB names it) of the table's columns, partition keys last as Athena lists them."""
        from water.runtime import aws

        glue, named = self.job.client("glue"), self.spec["table"]
        try:
            table = glue.get_table(DatabaseName=named["database"], Name=named["name"])["Table"]
        except Exception as exc:
            said = aws.refusal(exc)
            if said and aws.not_found(exc):
                raise JobFailed(f"no table {named['database']}.{named['name']} in the Glue Data Catalog "
                                f"({said[0]})") from None
            raise
        found = (table.get("StorageDescriptor") or {}).get("Columns", []) + table.get("PartitionKeys", [])
        return [(c["Name"], rules.catalog_type(c["Type"])) for c in found]

    def verdict(self, baseline: dict | None, run_id: str) -> rules.Verdict:
        plan = rules.Plan("trino", _relation(_name(self.spec["table"]), self.condition), self.columns(),
                          self.spec["rules"], baseline)
        return rules.verdict(plan, rules.measure(plan, self.run), run_id)

    def run(self, sql: str, params: list) -> tuple:
        """The one row a query answers, as text (None for NULL)."""
        from water.runtime import aws, poll

        job = self.job
        self.started += 1
        request = {"QueryString": sql, "ClientRequestToken": f"{job.token()}-{self.started}",
                   "QueryExecutionContext": {"Database": self.spec["table"]["database"]},
                   "ResultConfiguration": {"OutputLocation": self.results},
                   "WorkGroup": self.spec["table"]["workgroup"]}
        if params:
            request["ExecutionParameters"] = [trino_literal(p) for p in params]
        once = job.client("athena", retries=False)
        query_id = job.create(lambda: once.start_query_execution(**request)["QueryExecutionId"], lambda: None)
        quick = job.client("athena", retries=False, quick=True)
        # a check's query is its own, never re-attached by a retry (whose token differs): stopped with the pod
        job.attached(f"athena query {query_id} ({self.started} of 2)",
                     lambda: quick.stop_query_execution(QueryExecutionId=query_id), aws_job=False)
        asking = job.client("athena", retries=False)  # the poller waits out throttling itself
        status = job.wait(lambda: queries.finished(asking, query_id), interval=poll.job_interval,
                          transient=aws.transient)["Status"]
        if status["State"] != "SUCCEEDED":
            raise JobFailed(f"Athena query {query_id} {status['State']}: {status.get('StateChangeReason', '')}")
        return _one_row(job.client("athena").get_query_results(QueryExecutionId=query_id, MaxResults=2))


def _one_row(answer: dict) -> tuple:
    """The data row of a one-row SELECT's GetQueryResults. Athena's first row of a SELECT's results holds the
    column labels (pyathena and awswrangler drop it alike); a value NULL is a Datum without VarCharValue."""
    result = answer["ResultSet"]
    labels = [c.get("Label", c.get("Name")) for c in result["ResultSetMetadata"]["ColumnInfo"]]
    found = [tuple(d.get("VarCharValue") for d in row["Data"]) for row in result["Rows"]]
    if found and list(found[0]) == labels:
        found = found[1:]
    if len(found) != 1:
        raise JobFailed(f"Athena answered {len(found)} rows to a query of one (query labels: {', '.join(labels)})")
    return found[0]


def trino_literal(value: Any) -> str:
    """A parameter value as Athena substitutes it into the query (ExecutionParameters are SQL literals): a number
    as a DOUBLE literal, anything else a quoted string."""
    return repr(value) if isinstance(value, float) else queries.string_literal(str(value))  # 12.5 (DECIMAL), 1e-05 (DOUBLE)
