"""`water run --local`: the demo end to end, and each behaviour a user relies on."""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import textwrap

import pytest

from conftest import example_path
from water import pipeline as pipeline_mod
from water.cli import cli
from water.local import runner

HEAD = """apiVersion: water/v1
kind: Pipeline
metadata: {name: t}
spec:
  image: registry.example.com/t:1.0.0
"""


def _project(tmp_path, body: str, files: dict | None = None):
    (tmp_path / "water.yaml").write_text(HEAD + textwrap.indent(textwrap.dedent(body), "  "))
    for rel, text in (files or {}).items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    return tmp_path


def _run(path, *args, runner_=None):
    from click.testing import CliRunner

    return (runner_ or CliRunner()).invoke(cli, ["run", "--local", str(path), *args])


def _data_root(path):
    return os.path.join(path, ".water", "s3")


# --- the demo -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo, copied and run twice (a second run to compare outputs)."""
    path = tmp_path_factory.mktemp("demo") / "demo"
    shutil.copytree(example_path("demo"), path, ignore=shutil.ignore_patterns(".water"))
    first, second = _run(path), _run(path)
    return path, first, second


def test_the_demo_runs_every_step_and_prints_its_metric(demo):
    path, first, _ = demo
    assert first.exit_code == 0, first.output
    assert "train: metrics: accuracy 0." in first.stdout
    assert "publish: 72 B in 1 object -> tier 2: cpu 500m, memory 512Mi, 3 shards" in first.stdout
    events = [line.split(None, 1) for line in first.stderr.splitlines()]
    for step in ("extract", "features", "validate-features", "train", "predict", "check-predictions", "publish",
                 "register"):
        assert [step, "running"] in events and any(e[0] == step and e[1].startswith("done in ") for e in events)
    assert "validate-features: 23 of 23 rules passed over 142 rows" in first.stdout
    assert "check-predictions: 2 of 2 rules passed over 36 rows" in first.stdout
    assert "register: version 1 of water-demo (Approved)" in first.stdout
    assert "publish: 72 B in 1 object -> tier 2: cpu 500m, memory 512Mi, 3 shards" in first.stderr


def test_the_demo_gives_identical_results_on_every_run(demo):
    path, _, second = demo
    assert second.exit_code == 0
    runs = sorted(glob.glob(os.path.join(_data_root(path), "water-demo", "runs", "*")))
    assert len(runs) == 2
    for rel in ("extract/result.csv", "features/train/part-0.csv", "predictions/part-0.csv.out"):
        first, again = (open(os.path.join(r, rel), "rb").read() for r in runs)
        assert first == again and first, rel
    models = [glob.glob(os.path.join(r, "model", "*", "output", "model.tar.gz"))[0] for r in runs]
    assert open(models[0], "rb").read() == open(models[1], "rb").read()


def test_the_sized_step_really_runs_once_per_shard(demo):
    path, first, _ = demo
    run_id = first.stdout.split("run ")[-1].split()[0]
    shards = []
    for log in sorted(glob.glob(os.path.join(path, ".water", "runs", run_id, "steps", "publish.shard*.log"))):
        with open(log) as f:
            shards += [line.split(":")[0] for line in f if line.startswith("shard ")]
    assert shards == ["shard 1/3", "shard 2/3", "shard 3/3"]


def test_runs_are_listed_with_their_status(demo):
    from click.testing import CliRunner

    path, _, _ = demo
    result = CliRunner().invoke(cli, ["runs", "--local", str(path)])
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and all("succeeded" in line and "9/9" in line for line in lines[1:])


def test_from_a_step_reuses_what_comes_before_it(demo):
    path, _, _ = demo
    result = _run(path, "--from", "train")
    assert result.exit_code == 0, result.output
    reused = [line.split(None, 1) for line in result.stderr.splitlines() if "reused" in line]
    assert reused == [[step, "reused from the latest run"] for step in ("extract", "features", "validate-features")]
    run_id = result.stdout.split("run ")[-1].split()[0]
    logs = sorted(os.listdir(os.path.join(path, ".water", "runs", run_id, "steps")))
    assert "extract.log" not in logs and "train.log" in logs and "publish.shard0.log" in logs


def test_a_parameter_override_reaches_the_query(demo):
    path, _, _ = demo
    p = pipeline_mod.load(str(path))
    result = runner.run(p, params={"min_alcohol": "14.0"}, only="extract")
    assert result.status == "succeeded"
    rows = open(os.path.join(result.data_root, result.steps["extract"].outputs["output"][5:], "result.csv")).read()
    with open(os.path.join(path, "data", "wine.csv")) as f:
        expected = [line.split(",")[0] for line in f.read().splitlines()[1:] if float(line.split(",")[1]) >= 14]
    assert [r.split(",")[0] for r in rows.splitlines()[1:]] == expected and expected


# --- behaviours ---------------------------------------------------------------------------------------------------

def test_a_failing_step_stops_what_depends_on_it_and_shows_its_log(tmp_path):
    path = _project(tmp_path, """\
      steps:
        - {name: ok, container: {command: [sh, -c, "echo fine"]}}
        - {name: bad, container: {command: [sh, -c, "echo about to fail; echo boom >&2; exit 3"]}}
        - {name: later, after: [bad], container: {command: [sh, -c, "echo never > never.txt"]}}
    """)
    result = _run(path, "--jobs", "1")
    assert result.exit_code == 1
    assert "bad              failed after" in result.stderr and "sh exited with code 3" in result.stderr
    assert "later            skipped (bad failed)" in result.stderr
    assert "  | boom" in result.stdout and "bad failed: sh exited with code 3" in result.stdout
    assert not (path / "never.txt").exists()


def test_independent_steps_run_at_the_same_time(tmp_path):
    stamp = 'python -c "import time; print(time.time())" >> times-{0}.txt; sleep 1; ' \
            'python -c "import time; print(time.time())" >> times-{0}.txt'
    path = _project(tmp_path, f"""\
      steps:
        - {{name: a, container: {{command: [sh, -c, '{stamp.format("a")}']}}}}
        - {{name: b, container: {{command: [sh, -c, '{stamp.format("b")}']}}}}
    """)
    result = _run(path, "--jobs", "2")
    assert result.exit_code == 0, result.output
    a_start, a_end = (float(t) for t in (path / "times-a.txt").read_text().split())
    b_start, b_end = (float(t) for t in (path / "times-b.txt").read_text().split())
    assert a_start < b_end and b_start < a_end  # the two sleeps overlap


def test_fan_out_runs_as_many_shards_as_the_chosen_tier_says(tmp_path):
    path = _project(tmp_path, """\
      steps:
        - name: make
          container:
            command: [sh, -c, "mkdir -p $0 && head -c 5000 /dev/zero > $0/data", s3://bucket/made/]
            output: s3://bucket/made/
        - name: fan
          after: [make]
          container: {command: [sh, -c, 'touch "shard-$(echo $WATER_SHARD | tr / -)"']}
          sizing:
            from: make
            tiers:
              - {upTo: 1Ki, resources: {cpu: 250m}}
              - {upTo: 1Mi, resources: {cpu: "1"}, parallelism: 4}
              - {resources: {cpu: "2"}, parallelism: 8}
    """)
    result = _run(path)
    assert result.exit_code == 0, result.output
    assert "fan: 4.9 KiB in 1 object -> tier 2: cpu 1, 4 shards" in result.stderr
    assert sorted(p.name for p in path.glob("shard-*")) == ["shard-0-4", "shard-1-4", "shard-2-4", "shard-3-4"]


ATHENA = """\
  local:
    tables: {lake.people: data/people.csv}
  steps:
    - name: q
      athena:
        database: lake
        output: s3://bucket/q/
        query: |
          -- Trino functions that DuckDB spells otherwise
          SELECT name, element_at(split(name, ' '), 1) AS first, regexp_like(name, '^A') AS a
          FROM people ORDER BY name
"""
PEOPLE = {"data/people.csv": "name,age\nAda Lovelace,36\nAlan Turing,41\nGrace Hopper,85\n"}


def test_athena_sql_in_trino_dialect_runs_on_duckdb(tmp_path):
    path = _project(tmp_path, ATHENA, PEOPLE)
    result = _run(path)
    assert result.exit_code == 0, result.output
    out = open(os.path.join(_data_root(path), "bucket", "q", "result.csv")).read()
    assert out.splitlines() == ["name,first,a", "Ada Lovelace,Ada,True", "Alan Turing,Alan,True",
                                "Grace Hopper,Grace,False"]


def test_a_table_missing_locally_is_a_clear_error(tmp_path):
    path = _project(tmp_path, ATHENA.replace("FROM people", "FROM lake.staff"), PEOPLE)
    result = _run(path)
    assert result.exit_code == 1
    assert "Table with name staff does not exist" in result.stdout
    assert "(local tables come from spec.local.tables; known: lake.people)" in result.stdout


def test_parameters_reach_sql_as_values_never_as_text(tmp_path):
    body = ATHENA.replace("  local:", "  params: {who: \"x' OR '1'='1\"}\n  local:").replace(
        "FROM people ORDER BY name", "FROM people WHERE name = {{params.who}} ORDER BY name")
    path = _project(tmp_path, body, PEOPLE)
    assert _run(path).exit_code == 0
    out = open(os.path.join(_data_root(path), "bucket", "q", "result.csv")).read()
    assert out.splitlines() == ["name,first,a"]  # the quote in the value did not become SQL


def test_a_glue_script_that_needs_spark_says_so(tmp_path):
    path = _project(tmp_path, """\
      steps:
        - name: g
          glue: {job: j, script: job.py, arguments: {--output: s3://bucket/g/}}
    """, {"job.py": "from pyspark.sql import SparkSession\n"})
    result = _run(path)
    assert result.exit_code == 1
    assert "job.py uses Spark, and pyspark is not installed here: pip install pyspark" in result.stdout


def test_unknown_parameters_and_steps_are_refused_before_anything_runs(tmp_path):
    path = _project(tmp_path, """\
      params: {a: "1"}
      steps:
        - {name: s, container: {command: [sh, -c, "touch ran"]}}
    """)
    result = _run(path, "--param", "b=2")  # bad input: exit 2, as an invalid spec
    assert result.exit_code == 2 and result.stderr == "unknown parameter 'b' (declared: a)\n"
    result = _run(path, "--only", "nope")
    assert result.exit_code == 2 and result.stderr == "unknown step 'nope' (steps: s)\n"
    assert not (path / "ran").exists()


def test_only_runs_that_step_alone_on_outputs_of_earlier_runs(tmp_path):
    path = _project(tmp_path, """\
      steps:
        - {name: a, container: {command: [sh, -c, "echo a >> ran.txt"], output: s3://bkt/a/}}
        - {name: b, after: [a], container: {command: [sh, -c, "echo b >> ran.txt"]}}
        - {name: c, after: [b], container: {command: [sh, -c, "echo c >> ran.txt"]}}
    """)
    result = _run(path, "--only", "b")
    assert result.exit_code == 1 and result.stderr == ("step 'a' has not succeeded in any earlier local run: "
                                                       "run it first (or the whole pipeline)\n")
    assert _run(path).exit_code == 0
    assert _run(path, "--only", "b").exit_code == 0
    assert _run(path, "--from", "c").exit_code == 0  # a and b from the runs where they last succeeded
    assert (path / "ran.txt").read_text().split() == ["a", "b", "c", "b", "c"]


def test_run_records_keep_the_spec_logs_and_outputs(tmp_path):
    path = _project(tmp_path, """\
      params: {greeting: hello}
      steps:
        - name: s
          env: {WHO: "{{params.greeting}} {{run.id}}"}
          container: {command: [sh, -c, 'echo "$WHO" > "$0/said.txt"', s3://bkt/o/], output: s3://bkt/o/}
    """)
    assert _run(path, "--param", "greeting=hi").exit_code == 0
    (run_dir,) = glob.glob(str(path / ".water" / "runs" / "*"))
    record = json.load(open(os.path.join(run_dir, "run.json")))
    assert record["status"] == "succeeded" and record["params"] == {"greeting": "hi"}
    assert record["steps"]["s"]["outputs"]["output"] == "s3://bkt/o/"
    assert open(os.path.join(run_dir, "water.yaml")).read().startswith(f"# run {record['run_id']}")
    said = open(os.path.join(_data_root(path), "bkt", "o", "said.txt")).read()
    assert said == f"hi {record['run_id']}\n"


# --- progress -----------------------------------------------------------------------------------------------------

def test_the_progress_table_shows_waiting_running_with_elapsed_time_done_and_failed():
    import io

    from water.local.progress import Progress
    from water.local.runner import StepResult

    now = [100.0]
    progress = Progress(["a", "b", "c", "d"], io.StringIO(), live=False, clock=lambda: now[0])
    progress(StepResult("a", "running"))
    progress(StepResult("b", "running"))
    now[0] = 103.5
    progress(StepResult("a", "done", seconds=3.5, outputs={"bytes": "2048"}, shards=3))
    progress(StepResult("b", "failed", seconds=3.5, error="sh exited with code 1"))
    progress(StepResult("c", "skipped", error="b failed"))
    progress(StepResult("d", "running"))
    now[0] = 105.0
    rows = progress.table()
    assert [row.split(None, 3) for row in rows] == [
        ["a", "done", "3.5s", "2.0 KiB, 3 shards"],
        ["b", "failed", "3.5s", "sh exited with code 1"],
        ["c", "skipped", "b", "failed"],  # no time: the reason in the detail column
        ["d", "running", "1.5s"],
    ]
    assert len({row.index(state) for row, state in zip(rows, ["done", "failed", "skipped", "running"])}) == 1
    assert rows[2].index("b failed") == rows[1].index("sh exited")  # a column each, whatever the widths


def test_on_a_terminal_the_table_is_redrawn_in_place(tmp_path):
    import pty
    import subprocess
    import sys

    path = _project(tmp_path, """\
      steps:
        - {name: first, container: {command: [sleep, "0.6"]}}
        - {name: second, after: [first], container: {command: [sh, -c, "echo ok"]}}
    """)
    controller, terminal = pty.openpty()
    done = subprocess.run([sys.executable, "-m", "water.cli", "run", "--local", str(path)], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=terminal, timeout=60)
    os.close(terminal)
    screen = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    os.close(controller)
    text = screen.decode()
    assert done.returncode == 0
    assert "\x1b[2F" in text  # moved back over the two rows to redraw them
    assert "second           waiting" in text and "first            running" in text
    final = text.split("\x1b[2F")[-1]
    assert "first            done" in final and "second           done" in final


def test_a_local_run_loads_no_aws_or_cluster_client(tmp_path):
    import subprocess
    import sys

    path = _project(tmp_path, ATHENA, PEOPLE)
    code = ("import sys; from water import pipeline; from water.local import runner; "
            "r = runner.run(pipeline.load(sys.argv[1])); "
            "print(r.status, sorted(m for m in ('boto3', 'botocore', 'kubernetes') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "succeeded []", done.stderr


def test_a_step_is_stopped_at_its_timeout_as_on_the_cluster(tmp_path):
    path = _project(tmp_path, """\
      steps:
        - {name: slow, timeout: 1s, container: {command: [sleep, "30"]}}
    """)
    result = _run(path)
    assert result.exit_code == 1
    assert "slow failed: timed out after 1s (the step's timeout)" in result.stdout


def test_an_s3_uri_cannot_reach_outside_the_local_data_root(tmp_path):
    path = _project(tmp_path, """\
      steps:
        - {name: s, container: {command: [sh, -c, "touch $0/escaped", "s3://bkt/../../../outside/"]}}
    """)
    result = _run(path)
    assert result.exit_code == 1
    assert "'s3://bkt/../../../outside/' points outside the local data root" in result.stdout
    assert not (tmp_path / "outside").exists()


DATED = """apiVersion: water/v1
kind: Pipeline
metadata: {name: dated}
spec:
  image: example.com/dated:1.0
  schedule: {cron: "0 3 * * *", timezone: Asia/Tokyo}
  steps:
    - name: show
      container:
        command: [python, -c, "import sys; open('date.txt', 'w').write(sys.argv[1])", "{{run.date}}"]
"""


def test_run_date_is_the_schedules_date_on_every_machine_and_date_sets_it(tmp_path, water_bin):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    (tmp_path / "water.yaml").write_text(DATED)
    seen = set()
    for machine_zone in ("UTC", "Asia/Tokyo", "America/Los_Angeles"):
        subprocess.run([water_bin, "run", "--local", str(tmp_path)], check=True, capture_output=True,
                       env={**os.environ, "TZ": machine_zone}, cwd=tmp_path)
        seen.add((tmp_path / "date.txt").read_text())
    assert seen == {f"{datetime.now(ZoneInfo('Asia/Tokyo')):%Y-%m-%d}"}  # one answer, Tokyo's
    subprocess.run([water_bin, "run", "--local", str(tmp_path), "--date", "2026-01-15"], check=True,
                   capture_output=True, cwd=tmp_path)
    assert (tmp_path / "date.txt").read_text() == "2026-01-15"


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])  # Ctrl-C, kill
def test_water_serve_local_answers_sagemaker_s_container_contract_with_the_demo_s_model(demo, stop):
    """The newest Approved version of the demo's registry over HTTP (a real client): /ping, predictions for CSV
    rows as batch transform makes them, the handler's error as a 400, and Ctrl-C or kill a clean stop."""
    import signal
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    path, _, _ = demo
    server = subprocess.Popen([sys.executable, "-m", "water.cli", "serve", "--local", str(path), "--port", "0"],
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        chosen, listening = server.stdout.readline(), server.stdout.readline()
        newest = max(int(name.split(".")[0]) for name in os.listdir(path / ".water/models/water-demo/versions"))
        assert chosen.startswith(f"version {newest} of water-demo (Approved, accuracy 0.")  # the newest Approved
        url = listening.split(" on ")[1].split()[0]
        assert urllib.request.urlopen(f"{url}/ping").status == 200
        rows = (path / "data" / "wine.csv").read_text().splitlines()
        body = "\n".join(rows[:4]).encode()  # the header and three rows of classes 0
        request = urllib.request.Request(f"{url}/invocations", data=body, headers={"Content-Type": "text/csv"})
        with urllib.request.urlopen(request) as answer:
            assert answer.read().decode().split() == ["0", "0", "0"]
        bad = urllib.request.Request(f"{url}/invocations", data=b"x,y\n1,2\n", headers={"Content-Type": "text/csv"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad)
        assert refused.value.code == 400
        assert server.stdout.readline() == "POST /invocations: 3 predictions\n"
    finally:
        os.killpg(server.pid, getattr(signal, stop))
        out, _ = server.communicate(timeout=20)
    assert server.returncode == 0 and out.endswith("stopped\n")


def test_water_serve_local_without_a_registered_model_says_so(tmp_path):
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["serve", "--local", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == (f"no model versions under {tmp_path}/.water/models: run a pipeline with a register "
                             "step first\n")


@pytest.mark.parametrize("old, new, step", [
    ('input: "{{steps.features.output}}test/"', 'input: "{{steps.features.output}}nothing/"', "predict"),
    ('inputs: {train: "{{steps.features.output}}train/"', 'inputs: {train: "{{steps.features.output}}trian/"',
     "train"),
])
def test_a_sagemaker_job_over_a_prefix_without_objects_fails_as_sagemaker_fails_it(tmp_path, old, new, step):
    path = tmp_path / "demo"
    shutil.copytree(example_path("demo"), path, ignore=shutil.ignore_patterns(".water"))
    spec = path / "water.yaml"
    assert old in spec.read_text()
    spec.write_text(spec.read_text().replace(old, new))
    result = runner.run(pipeline_mod.load(str(path)), jobs=1)
    assert result.status == "failed" and result.steps[step].status == "failed"
    missing = new.split('"')[1].replace("{{steps.features.output}}", result.steps["features"].outputs["output"])
    assert result.steps[step].error == (f"no objects under {missing} (SageMaker fails the job the same way: No S3 "
                                        "objects found under S3 URL)")


@pytest.mark.parametrize("command, program", [
    ('[python, -c, "import time; print(\'working\', flush=True); time.sleep(60)"]', "python"),
    # a step that ignores SIGINT and SIGTERM, with a child of its own: killed, child and all, after the grace time
    ('[sh, -c, "trap \'\' INT TERM; echo working; python -c \'import time; time.sleep(60)\'"]', "sh"),
], ids=["plain", "stubborn"])
def test_ctrl_c_stops_the_steps_records_the_run_as_interrupted_and_keeps_its_logs(tmp_path, command, program):
    """As a terminal's Ctrl-C does: SIGINT to water's foreground process group."""
    import signal
    import sys
    import time

    path = _project(tmp_path, f"""\
      steps:
        - {{name: slow, container: {{command: {command}}}}}
        - {{name: after, after: [slow], container: {{command: [sh, -c, "echo never"]}}}}
    """)
    started = time.monotonic()
    water = subprocess.Popen([sys.executable, "-m", "water.cli", "run", "--local", str(path)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # pytest may ignore it
    logs = path / ".water" / "runs"
    while not any("working" in p.read_text() for p in logs.glob("*/steps/slow.log")):
        assert time.monotonic() - started < 30 and water.poll() is None, water.communicate()
        time.sleep(0.05)
    os.killpg(water.pid, signal.SIGINT)
    out, err = water.communicate(timeout=30)
    assert water.returncode == 130, err
    assert "Aborted" not in err and "Traceback" not in err
    (record,) = [json.loads(p.read_text()) for p in logs.glob("*/run.json")]
    assert record["status"] == "interrupted"
    assert {name: s["status"] for name, s in record["steps"].items()} == {"slow": "interrupted", "after": "skipped"}
    assert record["steps"]["slow"]["error"] == f"stopped by Ctrl-C ({program} was terminated)"
    assert "working" in (logs / record["run_id"] / "steps" / "slow.log").read_text()
    assert "slow interrupted: stopped by Ctrl-C" in out
    left = [pid for pid in os.listdir("/proc") if pid.isdigit() and _cmdline(pid).endswith("time.sleep(60)")]
    assert left == []  # the step's process did not outlive the run
    listed = subprocess.run([sys.executable, "-m", "water.cli", "runs", "--local", str(path)], capture_output=True,
                            text=True, check=True).stdout
    assert record["run_id"] in listed and "interrupted" in listed


def test_ctrl_c_while_the_progress_prints_still_stops_the_run(tmp_path):
    """Ctrl-C lands wherever the main thread is: here in the progress report of a step starting, outside the
    scheduler's wait (where a KeyboardInterrupt once escaped, the run unrecorded and its step left running)."""
    import signal

    path = _project(tmp_path, """\
      steps:
        - {name: slow, container: {command: [python, -c, "import time; time.sleep(60)"]}}
    """)
    def report(step):
        if step.status == "running":
            os.kill(os.getpid(), signal.SIGINT)
    result = runner.run(pipeline_mod.load(str(path)), jobs=1, report=report)
    assert result.status == "interrupted" and result.steps["slow"].status == "interrupted"
    assert json.loads((tmp_path / ".water" / "runs" / result.run_id / "run.json").read_text())["status"] == "interrupted"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # a second Ctrl-C stops water as usual


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


BUILTIN = """\
apiVersion: water/v1
kind: Pipeline
metadata: {name: builtin}
spec:
  image: registry.example.com/builtin:1.0.0
  aws: {region: us-east-1, sagemakerRole: "arn:aws:iam::111122223333:role/sm"}
  steps:
    - name: train
      train:
        image: xgboost:1.7-1
        instance: {type: ml.m5.large}
        contentType: text/csv
        hyperparameters: {num_round: 30, objective: "reg:squarederror", max_depth: 3, eta: 0.3}
        inputs: {train: "s3://data/train/", validation: "s3://data/validation/"}
        output: s3://data/models/
        metrics: {rmse: "validation-rmse:([0-9.]+)"}
    - name: predict
      after: [train]
      transform:
        model: "{{steps.train.model}}"
        input: s3://data/test/
        output: s3://data/predictions/
        instance: {type: ml.m5.large}
"""


def test_sagemaker_s_builtin_xgboost_trains_and_predicts_locally_without_an_entry(tmp_path):
    """As the container's algorithm mode does: CSV with the label first and no header in the train and validation
    channels, its hyperparameters, its eval lines in the log (what metric regexes read), `xgboost-model` in
    model.tar.gz; then batch transform of label-less CSV rows through the same model."""
    import tarfile

    pytest.importorskip("xgboost")
    (tmp_path / "water.yaml").write_text(BUILTIN)
    data = tmp_path / ".water" / "s3" / "data"
    rows = [(x1, x2, 2 * x1 + x2) for x1 in range(10) for x2 in range(10)]
    for channel, picked in (("train", rows), ("validation", rows[::3])):
        (data / channel).mkdir(parents=True)
        (data / channel / "part.csv").write_text("".join(f"{y},{a},{b}\n" for a, b, y in picked))
    (data / "test").mkdir()
    (data / "test" / "rows.csv").write_text("1,2\n9,9\n")
    result = runner.run(pipeline_mod.load(str(tmp_path)), jobs=1)
    assert result.status == "succeeded", {n: s.error for n, s in result.steps.items()}
    assert float(result.steps["train"].outputs["metrics.rmse"]) < 1.0
    log = open(result.steps["train"].log).read()
    assert "[29]\ttrain-rmse:" in log and "\tvalidation-rmse:" in log
    with tarfile.open(result.steps["train"].outputs["model"].replace("s3://", str(tmp_path / ".water" / "s3") + "/")) as tar:
        assert tar.getnames() == ["xgboost-model"]
    predicted = (data / "predictions" / "rows.csv.out").read_text().split()
    assert [round(float(p)) for p in predicted] == [4, 27]


def test_a_train_step_without_entry_whose_image_is_not_xgboost_says_what_to_set(tmp_path):
    (tmp_path / "water.yaml").write_text(BUILTIN.replace("image: xgboost:1.7-1", "image: linear-learner:1"))
    data = tmp_path / ".water" / "s3" / "data"
    for channel in ("train", "validation"):
        (data / channel).mkdir(parents=True)
        (data / channel / "part.csv").write_text("1,2,3\n")
    result = runner.run(pipeline_mod.load(str(tmp_path)), jobs=1)
    assert result.steps["train"].error == ("locally, a train step runs its entry script: set train.entry (only "
                                           "SageMaker's built-in XGBoost runs here without one, and "
                                           "linear-learner:1 is not it)")
