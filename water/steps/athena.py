"""`athena`: an SQL query on Amazon Athena; the result CSV lands under `output`."""
from __future__ import annotations

import csv
import os
from typing import TYPE_CHECKING, Any

from water.errors import JobFailed
from water.spec.fields import Ctx, SpecModel, as_data, field, mark_of
from water.spec.types import PLAIN, TEXT, S3Uri, Str
from water.steps import queries
from water.steps.base import NUMBER, PREFIX, Kind, Prepared, read_project_file

if TYPE_CHECKING:
    from water.local.context import StepRun
    from water.runtime.job import Job


class AthenaSpec(SpecModel):
    """Run an SQL query on Amazon Athena."""

    database: str = field(Str(r"^[A-Za-z0-9_-]{1,255}$", "a Glue database name"), "Glue Data Catalog database.",
                          required=True)
    query: str = field(TEXT, "SQL text, or the path of a .sql file in the project; `{{params.NAME}}` become "
                       "query parameters, never pasted into the SQL.", required=True)
    output: str = field(S3Uri(), "Result location (Athena writes a CSV there).", required=True)
    workgroup: str = field(PLAIN, "Athena workgroup.", default="primary")


def is_sql_file(query: str) -> bool:
    return query.strip().endswith(".sql") and "\n" not in query.strip() and " " not in query.strip()


class Athena(Kind):
    name = "athena"
    priced = True
    spec = AthenaSpec
    outputs = {"output": PREFIX, "bytes": NUMBER}
    stop_keys = ("output", "workgroup")  # what the exit handler needs to find the run's query

    def prepare(self, config: Any, project_dir: str, path: str, ctx: Ctx) -> Prepared:
        prepared = self._read(config, project_dir, path, ctx)
        file, text = prepared.files.get("query", (None, config.query))
        queries.refuse_quoted(text, file, mark_of(config, "query"), f"{path}.query", ctx)
        return prepared

    def _read(self, config: Any, project_dir: str, path: str, ctx: Ctx) -> Prepared:
        if not is_sql_file(config.query):
            return Prepared()
        field_path, path = path, config.query.strip()
        found = read_project_file(project_dir, path, lambda strerror: ctx.problem(
            mark_of(config, "query"), f"{field_path}.query", f"cannot read SQL file '{path}': {strerror}"))
        return Prepared(files={"query": item for item in found.items()})

    def job_config(self, config: Any, prepared: Prepared) -> dict:
        data = as_data(config)
        if "query" in prepared.files:
            data["query"] = prepared.files["query"][1]
        return data


    def run_local(self, sr: StepRun) -> dict:
        """DuckDB over the tables of spec.local.tables; the SQL transpiled from Athena's Trino dialect;
        expressions bound as query parameters, as on Athena. The result is a CSV under `output`."""
        import duckdb

        config = sr.step.config
        text = sr.step.prepared.files["query"][1] if "query" in sr.step.prepared.files else config.query
        sql, values = queries.bind(text, sr.resolve)
        sql = queries.to_duckdb(sql, "the SQL")
        uri, folder = sr.output_dir(config.output)
        tables = sr.run.pipeline.spec.local.tables
        with duckdb.connect() as db:
            queries.create_tables(db, tables, sr.project_dir, config.database)
            sr.note(f"duckdb: {sql}")
            try:
                cursor = db.execute(sql, values)
            except duckdb.Error as exc:
                raise queries.local_failure(exc, tables, "the query") from None
            with open(os.path.join(folder, "result.csv"), "w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow([c[0] for c in cursor.description])
                while rows := cursor.fetchmany(10000):
                    writer.writerows(rows)
        return {"output": uri}


    def run_cluster(self, job: Job) -> dict:
        """Start the query (or find the one this step already started), wait, return where the result is."""
        from water.runtime import aws, cost, poll
        from water.runtime.job import Marker

        spec = job.spec
        sql, values = queries.bind(spec["query"], job.resolve)
        output = job.resolve(spec["output"])
        athena, s3 = job.client("athena"), job.client("s3")
        marker = Marker(job, s3, output)
        query_id = job.reattach(lambda attempt: marker.read(attempt),
                                lambda query: queries.status(athena, query)["State"] in ("QUEUED", "RUNNING", "SUCCEEDED"))
        if query_id is None:
            request = {"QueryString": sql, "ClientRequestToken": job.token(),
                       "QueryExecutionContext": {"Database": spec["database"]},
                       "ResultConfiguration": {"OutputLocation": output},
                       "WorkGroup": spec.get("workgroup", "primary")}
            if values:
                request["ExecutionParameters"] = [queries.athena_literal(v) for v in values]
            once = job.client("athena", retries=False)
            # the token makes a repeated start of this attempt answer the same query: nothing to look for first
            query_id = job.create(lambda: once.start_query_execution(**request)["QueryExecutionId"], lambda: None)
            marker.write(query_id)
        quick = job.client("athena", retries=False, quick=True)
        job.attached(f"athena query {query_id}", lambda: quick.stop_query_execution(QueryExecutionId=query_id))
        asking = job.client("athena", retries=False)  # the poller waits out throttling itself
        execution = job.wait(lambda: queries.finished(asking, query_id), interval=poll.job_interval,
                             transient=aws.transient)
        status = execution["Status"]
        if status["State"] != "SUCCEEDED":
            raise JobFailed(f"Athena query {query_id} {status['State']}: {status.get('StateChangeReason', '')}")
        size, _ = aws.measure_prefix(s3, output)
        return cost.priced({"output": output, "bytes": str(size)},
                           cost.athena(execution.get("Statistics") or {}, cost.of_job(job)))

    def permissions(self, step: Any, scope: Any) -> list:
        from water import permissions as iam

        config = step.config
        return queries.athena_access(scope, iam.sid(step.name), config.workgroup, config.database, [config.output])

    def stop_run(self, job: Job) -> str | None:
        """The run's query (from its marker), stopped if still queued or running; what was stopped, or None."""
        from water.runtime import aws
        from water.runtime.job import Marker

        athena = job.client("athena")
        try:
            query_id = Marker(job, job.client("s3"), job.resolve(job.spec["output"])).read()
            if query_id is None or queries.finished(athena, query_id):
                return None
        except Exception as exc:
            if aws.not_found(exc):
                return None  # no bucket, no marker, no query: nothing of this run can be running
            raise
        athena.stop_query_execution(QueryExecutionId=query_id)
        return f"athena query {query_id}"


KIND = Athena()
