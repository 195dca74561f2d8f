"""`athena`: an SQL query on Amazon Athena; the result CSV lands under `output`."""
from __future__ import annotations

import os

from water.spec.fields import SpecModel, as_data, field, mark_of
from water.spec.types import PLAIN, TEXT, S3Uri, Str
from water.steps.base import Kind, Prepared


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
    spec = AthenaSpec

    def step_outputs(self, config):
        return ("output", "bytes")

    def prepare(self, config, project_dir, path, ctx):
        if not is_sql_file(config.query):
            return Prepared()
        field_path, path = path, config.query.strip()
        full = os.path.join(project_dir, path)
        try:
            with open(full, encoding="utf-8") as f:
                return Prepared(files={"query": (path, f.read())})
        except OSError as exc:
            ctx.problem(mark_of(config, "query"), f"{field_path}.query", f"cannot read SQL file '{path}': "
                        f"{exc.strerror}")
            return Prepared()

    def job_config(self, config, prepared):
        data = as_data(config)
        if "query" in prepared.files:
            data["query"] = prepared.files["query"][1]
        return data


KIND = Athena()
