"""SQL sent to Athena, shared by the kinds that send it: `{{...}}` expressions as query parameters, parameter
values as Athena substitutes them, a query's end, and the local stand-in for Athena's tables (DuckDB views over
the files of spec.local.tables)."""
from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable
from typing import Any

from water import expressions
from water.errors import StepFailed
from water.spec.fields import Ctx
from water.spec.marked import Mark, file_mark, text_mark

_TAG = re.compile(r"\{\{.*?\}\}", re.S)


def query_parameters(sql: str) -> tuple[str, list, list]:
    """(SQL with `?` for each expression that stands for a value, those Refs in order, offsets of
    expressions inside quotes). Expressions in comments stay text: they are not parameters."""
    out, refs, quoted = [], [], []
    i, state = 0, ""  # state: the text that ends the comment, string or quoted name we are in
    while i < len(sql):
        tag = _TAG.match(sql, i)
        if tag:
            parts = _parts(tag.group(0))
            ref = parts[0] if parts and isinstance(parts[0], expressions.Ref) else None
            if ref and not state:
                refs.append(ref)
                out.append("?")
            elif ref or parts is None or state in ("\n", "*/"):
                if ref and state in ("'", '"'):
                    quoted.append(i)
                out.append(tag.group(0))  # left as written: never a value pasted into SQL
            else:
                out.append("".join(parts))  # a literal such as {{ '{{' }}
            i = tag.end()
            continue
        if state and sql.startswith(state, i):
            out.append(state)
            i, state = i + len(state), ""
            continue
        if not state:
            state = {"--": "\n", "/*": "*/"}.get(sql[i:i + 2]) or (sql[i] if sql[i] in "'\"" else "")
            if state in ("\n", "*/"):
                out.append(sql[i:i + 2])
                i += 2
                continue
        out.append(sql[i])
        i += 1
    return "".join(out), refs, quoted


def refuse_quoted(text: str, file: str | None, mark: Mark, path: str, ctx: Ctx) -> None:
    """Report each expression written inside quotes in SQL (`file`: the project file the text came from, else
    the spec at `mark`): water passes expressions as parameters, and a quoted one would be the text `{{...}}`."""
    for offset in query_parameters(text)[2]:
        at = file_mark(text, offset) if file else text_mark(mark, text, offset)
        sub = Ctx(file) if file else ctx
        sub.problem(at, path, "an expression inside quotes: water passes expressions to the query as parameters, "
                    "never as text", "remove the quotes around it")
        if file:
            ctx.problems.extend(sub.problems)


def _parts(tag: str) -> list | None:
    try:
        return expressions.parse(tag)
    except expressions.ExpressionError:
        return None  # reported by the spec checks


def status(athena: Any, query_id: str) -> dict:
    """A query's Status (State, StateChangeReason, ...) as GetQueryExecution answers it."""
    return athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]


def finished(athena: Any, query_id: str) -> dict | None:
    """The query's execution (Status, Statistics, ...) once it has ended (succeeded, failed or cancelled), else
    None."""
    now = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    return now if now["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED") else None


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def bind(sql: str, resolve: Callable[[str], str]) -> tuple[str, list]:
    """SQL with `?` for its expressions, and their values (`resolve` gives a `{{...}}`'s)."""
    text, refs, _ = query_parameters(sql)
    return text, [resolve("{{%s}}" % ref.key) for ref in refs]


def string_literal(text: str) -> str:
    """A text as an SQL string literal, for what takes no parameters (a view's definition, Athena's
    ExecutionParameters, which are literals)."""
    return "'" + text.replace("'", "''") + "'"


def athena_literal(value: str) -> str:
    """A parameter value as Athena substitutes it: numbers as they are, anything else a quoted string."""
    return value if _NUMBER.fullmatch(value) else string_literal(value)


READERS = {"csv": "read_csv_auto", "parquet": "read_parquet", "json": "read_json_auto"}  # DuckDB's, per format
_FORMATS = {".csv": "csv", ".parquet": "parquet", ".json": "json"}


def athena_access(scope: Any, sid: str, workgroup: str, database: str, outputs: list) -> list:
    """What a pod running Athena queries needs: the workgroup's query calls, the Glue catalog of `database`,
    the results under `outputs` (Athena writes them as the caller), and the tables' data, wherever the catalog
    says it lives."""
    from water import permissions as iam

    scope.note("athena steps and checks of a table read the tables' data from where the Glue catalog says it "
               "lives, which the spec does not name: s3:GetObject and s3:ListBucket are on arn:aws:s3:::* (narrow "
               "them to your tables' buckets)")
    buckets = sorted({iam.s3_parts(uri)[0] for uri in outputs})
    return [
        iam.statement(f"{sid}Queries", ["athena:StartQueryExecution", "athena:GetQueryExecution",
                                        "athena:GetQueryResults", "athena:StopQueryExecution"],
                      [scope.arn("athena", f"workgroup/{workgroup}")]),
        iam.statement(f"{sid}Catalog", ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition",
                                        "glue:GetPartitions", "glue:BatchGetPartition"],
                      [scope.arn("glue", "catalog"), scope.arn("glue", f"database/{database}"),
                       scope.arn("glue", f"table/{database}/*")]),
        *iam.s3_access(scope, f"{sid}Results", outputs, write=True),
        iam.statement(f"{sid}ResultBuckets", ["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
                      [f"arn:{scope.partition}:s3:::{b}" for b in buckets]),
        iam.statement(f"{sid}ResultUploads", ["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                      [f"arn:{scope.partition}:s3:::{b}/{p}*" for b, p in map(iam.s3_parts, outputs)]),
        iam.statement(f"{sid}TableData", ["s3:GetObject", "s3:ListBucket"], [f"arn:{scope.partition}:s3:::*"]),
    ]


def create_tables(db: Any, tables: dict, project_dir: str, database: str) -> None:
    """One view per table; unqualified names also under the step's database, as Athena resolves them."""
    for name, location in sorted(tables.items()):
        path = os.path.join(project_dir, location)
        files = sorted(glob.glob(os.path.join(path, "*"))) if os.path.isdir(path) else [path]
        suffix = os.path.splitext(files[0])[1].lower() if files else ""
        reader = READERS.get(_FORMATS.get(suffix, ""))
        if reader is None:
            raise StepFailed(f"spec.local.tables.{name}: {location} holds no CSV, Parquet or JSON file")
        schema = name.split(".")[0] if "." in name else database
        schemas = [schema, "main"] if schema == database else [schema]  # unqualified names: the step's database
        for schema in schemas:
            db.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            listing = "[" + ", ".join(map(string_literal, files)) + "]"
            db.execute(f'CREATE OR REPLACE VIEW "{schema}"."{name.split(".")[-1]}" AS SELECT * FROM {reader}({listing})')


def to_duckdb(sql: str, what: str) -> str:
    """Athena's SQL (Trino's dialect) as DuckDB's, for local runs (sqlglot); `what` names it in the error."""
    import sqlglot

    try:
        (found,) = sqlglot.transpile(sql, read="trino", write="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise StepFailed(f"{what} does not parse: {str(exc).splitlines()[0]}") from None
    return found


def local_failure(exc: Exception, tables: dict, what: str) -> StepFailed:
    """A DuckDB error of a local run as the step's failure: an unknown table names the local tables there are."""
    import duckdb

    if isinstance(exc, duckdb.CatalogException):
        known = ", ".join(sorted(tables)) or "none"
        return StepFailed(f"{str(exc).splitlines()[0]} (local tables come from spec.local.tables; known: {known})")
    return StepFailed(f"{what} failed: {str(exc).splitlines()[0]}")
