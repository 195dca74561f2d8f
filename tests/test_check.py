"""The `check` kind: every rule passing and failing, locally (DuckDB over the local folder) and in its pod (the
rendered water-job against moto's S3, DuckDB over the fetched objects) — the same numbers and verdicts both
ways; drift with and without a baseline; `onFail: warn`; what a user reads when a check fails."""
from __future__ import annotations

import json
import os
import textwrap
import time

import pytest

from conftest import RUN_ID, task_argv, water_job
from water import pipeline as pipeline_mod
from water import render as render_mod
from water.errors import SpecError
from water.local import runner
from water.runtime import aws

ROWS = ["id,alcohol,target,note"] + [f"{i},{10 + i % 5}.5,{i % 3},{'' if i % 10 == 0 else 'x'}" for i in range(1, 31)]
DATA = "\n".join(ROWS) + "\n"  # 30 rows: alcohol 10.5..14.5, target 0/1/2 (10 each), note null in 3 rows

PASSING = {
    "rows": {"min": 10, "max": 100},
    "columns": {"alcohol": "double", "target": "bigint", "note": "string"},
    "nulls": {"note": 0.1, "*": 0},
    "range": {"alcohol": {"min": 8, "max": 16}},
    "unique": ["id"],
    "values": {"target": [0, 1, 2]},
}
FAILING = {  # each rule as it fails on DATA, with what the user is told
    "rows": ({"min": 100}, "rows: 30 rows, at least 100"),
    "columns": ({"alcohol": "bigint"}, "columns alcohol: DOUBLE, expected bigint"),
    "nulls": ({"note": 0.05}, "nulls note: 0.1 null (3 of 30), at most 0.05"),
    "range": ({"alcohol": {"max": 12}}, "range alcohol: 10.5 to 14.5, at most 12"),
    "unique": (["target"], "unique target: 27 rows repeat another's values"),
    "values": ({"target": [0, 1]}, "values target: 10 rows outside 0, 1 (e.g. 2)"),
}


def spec_text(rules: list, on_fail: str = "fail", baseline: bool = True) -> str:
    return textwrap.dedent("""\
        apiVersion: water/v1
        kind: Pipeline
        metadata: {name: checked}
        spec:
          image: registry.example.com/checked:1.0.0
          steps:
            - name: validate
              check:
                data: s3://lake-results/in/
                rules: RULES
                output: s3://lake-results/{{run.id}}/validate/
                BASELINE
                onFail: ON_FAIL
            - name: after
              after: [validate]
              container: {command: ["true"]}
        """).replace("RULES", json.dumps(rules)).replace("ON_FAIL", on_fail).replace(
        "BASELINE", "baseline: s3://lake-results/profiles/validate/" if baseline else "")


def _project(tmp_path, rules, data=DATA, **options):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "water.yaml").write_text(spec_text(rules, **options))
    folder = tmp_path / ".water" / "s3" / "lake-results" / "in"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "part-0.csv").write_text(data)
    return tmp_path


def run_local(path) -> runner.RunResult:
    return runner.run(pipeline_mod.load(str(path)), jobs=1)


def log_of(result, step: str = "validate") -> str:
    with open(result.steps[step].log, encoding="utf-8") as f:
        return f.read()


def _profile_local(path, result) -> dict:
    with open(path / ".water" / "s3" / "lake-results" / result.run_id / "validate" / "profile.json") as f:
        return json.load(f)


def test_every_rule_passes_locally_and_the_profile_is_written(tmp_path):
    path = _project(tmp_path, [{k: v} for k, v in PASSING.items()])
    result = run_local(path)
    assert result.status == "succeeded" and result.steps["after"].status == "done"
    assert result.steps["validate"].outputs["metrics.rows"] == 30
    assert result.steps["validate"].outputs["metrics.failed"] == 0
    assert result.steps["validate"].notes == ["11 of 11 rules passed over 30 rows"]
    profile = _profile_local(path, result)
    assert profile["columns"]["target"]["shares"] == {"0": 0.333333, "1": 0.333333, "2": 0.333333}
    assert (profile["columns"]["alcohol"]["min"], profile["columns"]["alcohol"]["max"]) == (10.5, 14.5)
    assert profile["columns"]["note"]["nulls"] == 3 and len(profile["columns"]["alcohol"]["deciles"]) == 9


@pytest.mark.parametrize("rule", list(FAILING))
def test_each_rule_fails_locally_saying_what_it_saw_and_the_bound(tmp_path, rule):
    arg, said = FAILING[rule]
    result = run_local(_project(tmp_path, [{rule: arg}]))
    step = result.steps["validate"]
    assert step.status == "failed" and result.steps["after"].status == "skipped"
    assert step.error == f"1 of 1 rules failed: {said}"


def test_a_failed_check_lists_every_failed_rule(tmp_path):
    rules = [{rule: arg} for rule, (arg, _) in FAILING.items()] + [{"rows": {"min": 10}}]
    step = run_local(_project(tmp_path, rules)).steps["validate"]
    assert step.error == "6 of 7 rules failed: " + "; ".join(said for _, said in FAILING.values())


def test_a_column_that_is_not_there_fails_its_rule(tmp_path):
    step = run_local(_project(tmp_path, [{"range": {"weight": {"min": 0}}}])).steps["validate"]
    assert step.error == "1 of 1 rules failed: range weight: no such column"


def test_warn_goes_on_and_says_which_rules_failed(tmp_path):
    result = run_local(_project(tmp_path, [{"rows": {"min": 100}}], on_fail="warn"))
    assert result.status == "succeeded" and result.steps["after"].status == "done"
    assert result.steps["validate"].outputs["metrics.failed"] == 1
    assert result.steps["validate"].notes == ["0 of 1 rules passed over 30 rows; failed: rows: 30 rows, at least 100"]


def _shifted(share_of_two: int) -> str:
    """DATA with `share_of_two` of its 30 rows in class 2 and the rest in class 0."""
    rows = ["id,alcohol,target,note"] + [f"{i},12.5,{2 if i <= share_of_two else 0},x" for i in range(1, 31)]
    return "\n".join(rows) + "\n"


def test_drift_without_a_baseline_passes_and_says_so_then_compares_with_the_last_passing_run(tmp_path):
    rules = [{"drift": {"column": "target", "max": 0.2}}, {"drift": {"column": "alcohol", "max": 0.5}}]
    path = _project(tmp_path, rules)
    first = run_local(path)
    assert first.status == "succeeded"
    assert "ok drift target: no baseline yet" in log_of(first)
    second = run_local(path)  # the same data: no drift
    assert "ok drift target: the largest change of a class's share is 0 " in log_of(second)
    assert f"against run {first.run_id}" in log_of(second)
    _project(tmp_path, rules, data=_shifted(24))  # 33/33/33 yesterday, 20/0/80 today
    third = run_local(path)
    error = third.steps["validate"].error
    assert third.status == "failed" and error.startswith("2 of 2 rules failed: drift target: the largest change")
    assert f"is 0.4667 (class 2) against run {second.run_id}, at most 0.2" in error
    assert "drift alcohol: PSI " in error
    fourth = run_local(path)  # a failed run leaves the baseline as it was: still compared with the second run
    assert f"against run {second.run_id}" in fourth.steps["validate"].error


@pytest.mark.parametrize("rules, message", [
    ([{"rows": {"min": 1}, "unique": ["id"]}], "spec.steps[0].check.rules[0]: a rule has exactly one of: rows, "
     "columns, nulls, range, unique, values, drift (this one has rows, unique)"),
    ([{}], "spec.steps[0].check.rules[0]: a rule has exactly one of: rows, columns"),
    ([{"columns": {"x": "int64"}}], "spec.steps[0].check.rules[0].columns.x: 'int64' is not one of: tinyint"),
    ([{"nulls": {"x": 1.5}}], "spec.steps[0].check.rules[0].nulls.x: 1.5 is more than 1"),
    ([{"rows": {"min": "ten"}}], "spec.steps[0].check.rules[0].rows.min: expected a number, got a string"),
])
def test_a_rule_written_wrong_is_a_located_error(tmp_path, rules, message):
    with pytest.raises(SpecError) as err:
        pipeline_mod.load(str(_project(tmp_path, rules)))
    assert message in str(err.value) and str(err.value).startswith(f"{tmp_path}/water.yaml:")


def test_a_drift_rule_needs_a_baseline(tmp_path):
    with pytest.raises(SpecError, match="rules\\[0\\].drift: a drift rule needs check.baseline"):
        pipeline_mod.load(str(_project(tmp_path, [{"drift": {"column": "target", "max": 0.1}}], baseline=False)))


# --- in the pod: the rendered water-job against moto ------------------------------------------------------------

def _pod(tmp_path, rules, on_fail="fail") -> list:
    path = _project(tmp_path, rules, on_fail=on_fail)
    return task_argv(render_mod.render(pipeline_mod.load(str(path))).objects, "validate")


def _s3_profile(uri: str) -> dict:
    bucket, key = aws.s3_parts(uri)
    return json.loads(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def test_in_its_pod_the_same_rules_give_the_same_numbers_as_locally(aws_env, tmp_path):
    rules = [{k: v} for k, v in PASSING.items()] + [{"drift": {"column": "target", "max": 0.2}}]
    aws.client("s3").put_object(Bucket="lake-results", Key="in/part-0.csv", Body=DATA.encode())
    aws.client("s3").put_object(Bucket="lake-results", Key="in/_SUCCESS", Body=b"")  # not data
    assert water_job(_pod(tmp_path / "pod", rules)) == 0
    folder = aws_env["WATER_OUTPUTS_DIR"]
    outputs = {n: open(os.path.join(folder, n)).read() for n in sorted(os.listdir(folder))}
    assert outputs == {"metrics-failed": "0", "metrics-rows": "30",
                       "output": f"s3://lake-results/{aws_env['WATER_RUN_ID']}/validate/profile.json"}
    in_pod = _s3_profile(outputs["output"])
    assert _s3_profile("s3://lake-results/profiles/validate/profile.json") == in_pod  # kept: every rule passed
    local = run_local(_project(tmp_path / "local", rules))
    assert {**_profile_local(tmp_path / "local", local), "run": ""} == {**in_pod, "run": ""}
    assert local.steps["validate"].notes == ["12 of 12 rules passed over 30 rows"]


def test_a_failing_check_in_its_pod_exits_1_names_every_failed_rule_and_counts_them(aws_env, tmp_path, agent,
                                                                                  capsys):
    aws.client("s3").put_object(Bucket="lake-results", Key="in/part-0.csv", Body=DATA.encode())
    rules = [{"rows": {"min": 100}}, {"values": {"target": [0, 1]}}, {"unique": ["id"]}]
    assert water_job(_pod(tmp_path, rules)) == 1
    err = capsys.readouterr().err
    assert err == ("water-job: validate failed: 2 of 3 rules failed: rows: 30 rows, at least 100; values target: "
                   "10 rows outside 0, 1 (e.g. 2)\n")
    packets, deadline = [], time.monotonic() + 5
    while len([p for p in packets if p.startswith("water.step.runs")]) < 1 and time.monotonic() < deadline:
        packets += agent.recv(65535).decode().splitlines()
    failures = sorted(p for p in packets if p.startswith("water.check.failures"))
    assert failures == ["water.check.failures:1|c|#pipeline:checked,step:validate,kind:check,rule:rows",
                        "water.check.failures:1|c|#pipeline:checked,step:validate,kind:check,rule:values"]
    kept = aws.client("s3").list_objects_v2(Bucket="lake-results", Prefix="profiles/")
    assert kept["KeyCount"] == 0  # a failed check keeps no baseline


def test_in_its_pod_no_data_is_a_failure_that_says_where_it_looked(aws_env, tmp_path, capsys):
    assert water_job(_pod(tmp_path, [{"rows": {"min": 1}}])) == 1
    assert capsys.readouterr().err == "water-job: validate failed: no csv files under s3://lake-results/in/\n"


@pytest.mark.parametrize("fmt, name", [("parquet", "part-0.parquet"), ("json", "part-0.jsonl")])
def test_parquet_and_json_files_are_checked_like_csv(tmp_path, fmt, name):
    import duckdb

    csv_path = _project(tmp_path / "csv", [{k: v} for k, v in PASSING.items()])
    folder = tmp_path / fmt / ".water" / "s3" / "lake-results" / "in"
    folder.mkdir(parents=True)
    options = "(FORMAT parquet)" if fmt == "parquet" else "(FORMAT json)"
    duckdb.sql(f"COPY (SELECT * FROM read_csv_auto('{csv_path}/.water/s3/lake-results/in/part-0.csv')) "
               f"TO '{folder / name}' {options}")
    text = (csv_path / "water.yaml").read_text().replace("rules:", f"format: {fmt}\n        rules:")
    (tmp_path / fmt / "water.yaml").write_text(text)
    from_csv, other = run_local(csv_path), run_local(tmp_path / fmt)
    assert other.status == "succeeded", other.steps["validate"].error
    assert other.steps["validate"].notes == from_csv.steps["validate"].notes == ["11 of 11 rules passed over 30 rows"]


def test_in_its_pod_more_data_than_max_bytes_is_refused_before_anything_is_fetched(aws_env, tmp_path, capsys):
    aws.client("s3").put_object(Bucket="lake-results", Key="in/part-0.csv", Body=DATA.encode())
    _project(tmp_path, [{"rows": {"min": 1}}])
    (tmp_path / "water.yaml").write_text((tmp_path / "water.yaml").read_text().replace(
        "onFail: fail", "onFail: fail\n        maxBytes: 100"))
    assert water_job(task_argv(render_mod.render(pipeline_mod.load(str(tmp_path))).objects, "validate")) == 1
    assert capsys.readouterr().err == (f"water-job: validate failed: s3://lake-results/in/ holds {len(DATA):,} bytes "
                                       "of csv files, more than check.maxBytes (100) a pod fetches to check\n")


def test_headerless_csv_takes_its_column_names_from_names(tmp_path):
    """What SageMaker batch transform writes for a .csv input: one prediction per line, no header, `.csv.out`."""
    path = _project(tmp_path, [{"values": {"prediction": [0, 1, 2]}}, {"rows": {"min": 30, "max": 30}}])
    (path / "water.yaml").write_text((path / "water.yaml").read_text().replace(
        "rules:", "names: [prediction]\n        rules:"))
    folder = path / ".water" / "s3" / "lake-results" / "in"
    (folder / "part-0.csv").unlink()
    (folder / "part-0.csv.out").write_text("".join(f"{i % 3}\n" for i in range(30)))
    result = run_local(path)
    assert result.steps["validate"].notes == ["2 of 2 rules passed over 30 rows"], result.steps["validate"].error


def test_names_are_for_csv(tmp_path):
    path = _project(tmp_path, [{"rows": {"min": 1}}])
    (path / "water.yaml").write_text((path / "water.yaml").read_text().replace(
        "rules:", "format: parquet\n        names: [a]\n        rules:"))
    with pytest.raises(SpecError, match=r"check.names: parquet files name their own columns"):
        pipeline_mod.load(str(path))


def test_the_slack_alert_of_a_failed_check_names_its_failed_rules(aws_env, tmp_path, monkeypatch):
    """The pod's termination message (what Argo makes the failed node's message) through {{workflow.failures}} as
    Argo quotes it, to the bytes Slack receives."""
    from test_notify import Receiver, _notify, argo_failures

    aws.client("s3").put_object(Bucket="lake-results", Key="in/part-0.csv", Body=DATA.encode())
    log = tmp_path / "termination-log"
    log.write_text("")
    monkeypatch.setenv("WATER_TERMINATION_LOG", str(log))
    assert water_job(_pod(tmp_path / "p", [{"rows": {"min": 100}}, {"unique": ["target"]}])) == 1
    failures = argo_failures([{"displayName": "validate", "message": log.read_text(), "templateName": "check",
                               "phase": "Failed", "podName": "checked-1-check-1"}])
    slack = Receiver([])
    try:
        assert _notify(monkeypatch, slack.url, failures=failures) == 0
    finally:
        slack.close()
    assert slack.bodies[0]["blocks"][2]["text"]["text"] == (
        "*validate* failed: 2 of 2 rules failed: rows: 30 rows, at least 100; unique target: 27 rows repeat "
        "another's values")


def test_the_profile_uri_is_under_an_output_written_without_a_trailing_slash(tmp_path):
    path = _project(tmp_path, [{"rows": {"min": 1}}])
    (path / "water.yaml").write_text((path / "water.yaml").read_text().replace("/validate/\n", "/validate\n"))
    result = run_local(path)
    assert result.steps["validate"].outputs["output"] == f"s3://lake-results/{result.run_id}/validate/profile.json"


# --- over an Athena table: the same rules as SQL in Athena, its local stand-in on DuckDB ------------------------

TABLE_COLUMNS = [("id", "bigint"), ("alcohol", "double"), ("target", "bigint"), ("note", "string")]  # Glue's types


def _table_project(tmp_path, rules, where: str = "", data=DATA):
    """The rules over the table lake.wines (locally: DATA, through spec.local.tables)."""
    text = spec_text(rules).replace("data: s3://lake-results/in/", "table: {database: lake, name: wines"
                                    + (f", where: {json.dumps(where)}" if where else "") + "}")
    text = text.replace("  steps:", "  params: {who: nobody}\n  local:\n    tables: {lake.wines: data/wines.csv}\n"
                        "  steps:")
    (tmp_path / "data").mkdir(parents=True)
    (tmp_path / "water.yaml").write_text(text)
    (tmp_path / "data" / "wines.csv").write_text(data)
    return tmp_path


def test_a_table_is_checked_locally_with_the_numbers_its_files_give(tmp_path):
    rules = [{k: v} for k, v in PASSING.items()] + [{"drift": {"column": "alcohol", "max": 0.1}}]
    table, files = run_local(_table_project(tmp_path / "t", rules)), run_local(_project(tmp_path / "f", rules))
    assert table.status == "succeeded", table.steps["validate"].error
    assert table.steps["validate"].notes == files.steps["validate"].notes == ["12 of 12 rules passed over 30 rows"]
    assert {**_profile_local(tmp_path / "t", table), "run": ""} == {**_profile_local(tmp_path / "f", files), "run": ""}


def test_where_chooses_the_rows_of_a_table_with_its_expressions_as_parameters(tmp_path):
    path = _table_project(tmp_path, [{"rows": {"min": 10, "max": 10}}], where="target = 2 AND note <> {{params.who}}")
    result = run_local(path)
    # target 2 is 10 rows; one of them has no note, and NULL <> 'nobody' is not true: 9 rows
    assert result.steps["validate"].error == "1 of 1 rules failed: rows: 9 rows, at least 10 and at most 10"


def _glue_table(columns=TABLE_COLUMNS) -> None:
    glue = aws.client("glue")
    glue.create_database(DatabaseInput={"Name": "lake"})
    glue.create_table(DatabaseName="lake", TableInput={
        "Name": "wines", "StorageDescriptor": {"Columns": [{"Name": n, "Type": t} for n, t in columns]}})


def _athena_answers_from(data: str, endpoint: str, tmp_path):
    """A hook that has Athena answer each query moto is sent as Athena would: its Trino SQL, with the
    ExecutionParameters applied in order as Athena applies them (values substituted for `?`), transpiled by
    sqlglot and run on DuckDB over `data` as the table lake.wines; the row queued with moto
    (/moto-api/static/athena/query-results) in GetQueryResults' shape — a SELECT's first row the column labels,
    every value text, NULL a Datum without VarCharValue. moto hands a queued result to the next query started."""
    import urllib.request

    import duckdb
    import sqlglot

    (tmp_path / "wines.csv").write_text(data)

    def answer(params, **_):
        sql = params["QueryString"]
        for value in params.get("ExecutionParameters", []):
            sql = sql.replace("?", value, 1)
        (duck,) = sqlglot.transpile(sql, read="trino", write="duckdb")
        with duckdb.connect() as con:
            con.execute("CREATE SCHEMA lake")
            con.execute(f"CREATE VIEW lake.wines AS SELECT * FROM read_csv_auto('{tmp_path / 'wines.csv'}')")
            cursor = con.execute(duck)
            labels, row = [c[0] for c in cursor.description], cursor.fetchone()
        text = [{} if v is None else {"VarCharValue": str(v)} for v in row]
        body = {"results": [{"rows": [{"Data": [{"VarCharValue": n} for n in labels]}, {"Data": text}],
                             "column_info": [{"Name": n, "Label": n, "Type": "varchar"} for n in labels]}]}
        request = urllib.request.Request(f"{endpoint}/moto-api/static/athena/query-results",
                                         data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request).read()

    return ("before-parameter-build.athena.StartQueryExecution", answer)


def _table_pod(tmp_path, rules, where: str = "") -> list:
    return task_argv(render_mod.render(pipeline_mod.load(str(_table_project(tmp_path, rules, where)))).objects,
                     "validate")


def _sent_queries() -> list:
    athena = aws.client("athena")
    ids = athena.list_query_executions()["QueryExecutionIds"]
    return sorted((athena.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids),
                  key=lambda e: e["Status"]["SubmissionDateTime"])


def test_in_its_pod_a_table_is_checked_in_athena_with_the_numbers_its_files_give(aws_env, tmp_path):
    from conftest import JOB_HOOKS

    rules = [{k: v} for k, v in PASSING.items()] + [{"values": {"note": ["x"]}}]
    _glue_table()
    JOB_HOOKS.append(_athena_answers_from(DATA, aws_env["AWS_ENDPOINT_URL"], tmp_path))
    assert water_job(_table_pod(tmp_path / "pod", rules, where="note IS NULL OR note <> {{params.who}}")) == 0
    measured, spread = _sent_queries()  # two queries: every number, then the histograms that depend on them
    assert measured["Query"].startswith('SELECT count(*) AS m0, count("id") AS m1, count(DISTINCT "id") AS m2, ')
    assert measured["Query"].endswith("""FROM (SELECT * FROM "lake"."wines" WHERE note IS NULL OR note <> ?) AS data""")
    assert "approx_percentile(CAST(\"alcohol\" AS DOUBLE), ARRAY[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])" in measured["Query"]
    # the where's value (in the unique rule's subquery and the outer FROM) and the allowed values (target's
    # numbers, note's text: each twice, for the count and the sample) are parameters, never SQL text
    assert measured["ExecutionParameters"] == ["'O''Brien'"] + ["0.0", "1.0", "2.0"] * 2 + ["'x'"] * 2 + ["'O''Brien'"]
    assert "O'Brien" not in measured["Query"] and "'x'" not in measured["Query"]
    assert 'json_format(CAST(histogram(CAST("target" AS VARCHAR)) FILTER (WHERE "target" IS NOT NULL) AS JSON))' \
        in spread["Query"]
    for query in (measured, spread):
        assert query["QueryExecutionContext"] == {"Database": "lake"} and query["WorkGroup"] == "primary"
        # GetQueryExecution names the result file Athena wrote under the location it was given
        assert query["ResultConfiguration"]["OutputLocation"] == (f"s3://lake-results/{RUN_ID}/validate/athena/"
                                                                  f"{query['QueryExecutionId']}.csv")
    in_athena = _s3_profile(f"s3://lake-results/{RUN_ID}/validate/profile.json")
    local = _profile_local(tmp_path / "files", run_local(_project(tmp_path / "files", rules)))
    for profile in (in_athena, local):  # Athena's deciles are approximate (approx_percentile): compare the rest
        for column in profile["columns"].values():
            column.pop("deciles", None), column.pop("bins", None)
    assert {**in_athena, "run": ""} == {**local, "run": ""}


def test_in_its_pod_a_failing_table_check_names_every_failed_rule(aws_env, tmp_path, capsys):
    from conftest import JOB_HOOKS

    _glue_table()
    JOB_HOOKS.append(_athena_answers_from(DATA, aws_env["AWS_ENDPOINT_URL"], tmp_path))
    rules = [{rule: arg} for rule, (arg, _) in FAILING.items()]
    assert water_job(_table_pod(tmp_path, rules)) == 1
    assert capsys.readouterr().err == ("water-job: validate failed: 6 of 6 rules failed: "
                                       + "; ".join(said for _, said in FAILING.values()) + "\n")


def test_in_its_pod_a_table_not_in_the_catalog_fails_naming_it(aws_env, tmp_path, capsys):
    aws.client("glue").create_database(DatabaseInput={"Name": "lake"})
    assert water_job(_table_pod(tmp_path, [{"rows": {"min": 1}}])) == 1
    err = capsys.readouterr().err
    assert err.startswith("water-job: validate failed: no table lake.wines in the Glue Data Catalog (GetTable: "
                          "EntityNotFoundException: "), err
    assert aws.client("athena").list_query_executions()["QueryExecutionIds"] == []


def test_in_its_pod_a_failed_athena_query_fails_the_check_with_athena_s_reason(aws_env, tmp_path, capsys):
    from conftest import JOB_HOOKS
    from test_runtime import _set_state

    _glue_table()
    JOB_HOOKS.append(_set_state("FAILED", "COLUMN_NOT_FOUND: line 1:8: Column 'id' cannot be resolved"))
    assert water_job(_table_pod(tmp_path, [{"rows": {"min": 1}}])) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("water-job: validate failed: Athena query ")
    assert err.endswith("FAILED: COLUMN_NOT_FOUND: line 1:8: Column 'id' cannot be resolved")


@pytest.mark.parametrize("change, message", [
    (lambda t: t.replace("table: {", "data: s3://lake-results/in/\n        table: {"),
     "check: a check reads exactly one of: data"),
    (lambda t: t.replace("database: lake, ", ""), "check.table.database: required field is missing"),
    (lambda t: t.replace("name: wines}", "name: wines}\n        format: parquet"),
     "check.format: format is for a check of data files, not of a table"),
    (lambda t: t.replace("name: wines}", "name: wines, where: \"who = '{{params.who}}'\"}"),
     "check.table.where: an expression inside quotes"),
])
def test_a_table_check_written_wrong_is_a_located_error(tmp_path, change, message):
    path = _table_project(tmp_path, [{"rows": {"min": 1}}])
    (path / "water.yaml").write_text(change((path / "water.yaml").read_text()))
    with pytest.raises(SpecError, match=message):
        pipeline_mod.load(str(path))
