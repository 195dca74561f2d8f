"""The `water` command line as a user runs it."""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys

import yaml

from conftest import example_path
from water.cli import cli

COMMANDS = ["backfill", "completion", "cost", "delete", "deploy", "diff", "edit", "events", "graph", "history", "iam",
            "install", "lineage", "logs", "models", "new", "promote", "render", "resume", "retry", "rollback", "run", "runs", "schema", "serve",
            "status", "suspend", "validate"]


def test_help_lists_every_command_with_a_one_line_description(runner):
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = {}
    for line in result.stdout.split("Commands:")[1].strip().splitlines():
        name, description = line.split(None, 1)
        listed[name] = description
    assert sorted(listed) == COMMANDS
    assert all(not d.endswith("...") for d in listed.values())


def test_help_and_render_load_no_cloud_or_cluster_client():
    code = ("import sys; from water.cli import cli; from water import pipeline, render; "
            "render.render(pipeline.load(sys.argv[1])); "
            "print(sorted(m for m in ('boto3', 'botocore', 'kubernetes', 'sagemaker', 'datadog', 'jsonschema') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code, example_path("nightly-report")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_validating_a_framework_image_does_not_load_the_sagemaker_sdk():
    code = ("import sys; from water import pipeline; pipeline.load(sys.argv[1]); print('sagemaker' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, example_path("babyweight")], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "False", done.stderr


def test_validate_prints_the_summary_with_the_next_run_in_the_pipeline_time_zone(runner):
    result = runner.invoke(cli, ["validate", example_path("babyweight")])
    assert result.exit_code == 0
    assert result.stdout.startswith("OK babyweight: 5 steps, schedule 0 3 * * * (Asia/Tokyo), next run ")
    assert result.stdout.rstrip().endswith(" 03:00 JST")


def test_validate_without_a_schedule(runner):
    result = runner.invoke(cli, ["validate", example_path("demo") + "/water.yaml"])
    assert result.stdout == "OK demo: 9 steps, no schedule (runs on `water run` only)\n"


def test_validate_reads_water_yaml_in_the_current_folder(runner, monkeypatch):
    monkeypatch.chdir(example_path("nightly-report"))
    result = runner.invoke(cli, ["validate"])
    assert result.exit_code == 0 and result.stdout.startswith("OK nightly-report: 1 step,")


def test_a_missing_spec_is_one_clear_line(runner, tmp_path):
    result = runner.invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr == f"{tmp_path}/water.yaml: cannot read the spec: {os.strerror(errno.ENOENT)}\n"


def test_a_spec_saved_with_windows_line_endings_renders_the_same_bytes(runner, project):
    path = project("babyweight")
    before = runner.invoke(cli, ["render", str(path)])
    spec = path / "water.yaml"
    spec.write_bytes(spec.read_bytes().replace(b"\n", b"\r\n"))
    after = runner.invoke(cli, ["render", str(path)])
    assert after.exit_code == before.exit_code == 0 and after.stdout == before.stdout


def test_a_folder_render_cannot_write_to_is_one_line_naming_it(runner, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = runner.invoke(cli, ["render", example_path("babyweight"), "--out", str(blocker / "manifests")])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == f"{blocker / 'manifests'}: {os.strerror(errno.ENOTDIR)}"


def test_render_json_is_a_kubectl_style_list(runner):
    result = runner.invoke(cli, ["render", example_path("babyweight"), "-o", "json"])
    assert result.exit_code == 0
    listing = json.loads(result.stdout)
    assert listing["kind"] == "List"
    assert [i["kind"] for i in listing["items"]] == ["WorkflowTemplate", "CronWorkflow", "ConfigMap"]


def test_render_out_writes_one_file_per_object(runner, tmp_path):
    result = runner.invoke(cli, ["render", example_path("babyweight"), "--out", str(tmp_path / "m")])
    assert result.exit_code == 0
    written = [os.path.basename(line) for line in result.stdout.splitlines()]
    assert written[:2] == ["workflowtemplate-babyweight.yaml", "cronworkflow-babyweight.yaml"]
    assert re.fullmatch(r"configmap-babyweight-steps-[0-9a-f]{10}\.yaml", written[2]) and len(written) == 3
    assert sorted(os.listdir(tmp_path / "m")) == sorted(written)
    with open(tmp_path / "m" / written[0]) as f:
        assert yaml.safe_load(f)["kind"] == "WorkflowTemplate"


def test_render_annotates_the_git_commit_inside_a_repository(runner, project):
    path = project("demo")
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    subprocess.run(["git", "-C", str(path), "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q",
                    "--allow-empty", "-m", "x"], check=True)
    head = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    result = runner.invoke(cli, ["render", str(path)])
    template = next(yaml.safe_load_all(result.stdout))
    assert template["metadata"]["annotations"]["water/git-commit"] == head


def test_graph_formats(runner):
    mermaid = runner.invoke(cli, ["graph", example_path("babyweight")]).stdout
    assert mermaid.startswith("flowchart TD\n")
    assert "  predict --> publish" in mermaid and "  predict -.->|sizes| publish" in mermaid
    dot = runner.invoke(cli, ["graph", example_path("babyweight"), "--format", "dot"]).stdout
    assert dot.startswith('digraph "babyweight" {') and '"extract" -> "features";' in dot


def test_graph_svg_without_graphviz_says_what_to_install(runner, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` here
    result = runner.invoke(cli, ["graph", example_path("demo"), "--format", "svg"])
    assert result.exit_code == 1
    assert result.stderr.startswith("svg needs Graphviz's `dot` program")


def test_graph_svg_with_graphviz(runner):
    import shutil

    import pytest

    if not shutil.which("dot"):
        assert not os.environ.get("CI"), "CI installs graphviz (.ci/run)"
        pytest.skip("Graphviz's dot is not installed")
    result = runner.invoke(cli, ["graph", example_path("babyweight"), "--format", "svg"])
    assert result.exit_code == 0
    svg = result.stdout
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    assert all(f">{name}</text>" in svg for name in ("extract", "features", "train", "predict", "publish"))


def test_schema_command_prints_the_generated_schema(runner):
    from water.schema import water_schema

    result = runner.invoke(cli, ["schema"])
    assert json.loads(result.stdout) == water_schema()


def test_new_creates_a_project_that_validates_renders_and_passes_its_own_tests(runner, tmp_path):
    result = runner.invoke(cli, ["new", "recsys", "--dir", str(tmp_path)])
    assert result.exit_code == 0
    project = tmp_path / "recsys"
    for rel in ["water.yaml", "water.schema.json", "sql/extract.sql", "features/features.py", "train/train.py",
                "publish/publish.py", "Dockerfile", "README.md", "tests/test_pipeline.py",
                ".github/workflows/water.yml", ".dockerignore"]:
        assert (project / rel).is_file(), rel
    assert {".water/", ".git/"} <= set((project / ".dockerignore").read_text().split())
    ci = yaml.safe_load((project / ".github/workflows/water.yml").read_text())
    assert ci["env"]["WATER_PACKAGE"] == "${{ vars.WATER_PACKAGE }}"  # water is not on PyPI: the team says where
    assert ci["jobs"]["check"]["steps"][2]["run"].startswith('test -n "$WATER_PACKAGE" ||')
    assert (project / "water.yaml").read_text().startswith("# yaml-language-server: $schema=./water.schema.json\n")
    kinds = {next(k for k in s if k in ("container", "athena", "glue", "train", "transform"))
             for s in yaml.safe_load((project / "water.yaml").read_text())["spec"]["steps"]}
    assert kinds == {"container", "athena", "glue", "train", "transform"}
    assert runner.invoke(cli, ["validate", str(project)]).exit_code == 0
    assert runner.invoke(cli, ["render", str(project)]).exit_code == 0
    ran = runner.invoke(cli, ["run", "--local", str(project)])
    assert ran.exit_code == 0, ran.output
    assert "score            done" in ran.stderr and "train: metrics: items " in ran.stdout
    # outside an activated venv: no water on PATH, only the interpreter that has it
    env = {**os.environ, "PATH": os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                                 if not os.path.exists(os.path.join(p, "water")))}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=project,
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_new_refuses_to_overwrite_or_take_a_bad_name(runner, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("mine")
    result = runner.invoke(cli, ["new", "taken", "--dir", str(tmp_path)])
    assert result.exit_code == 1 and "already exists and is not empty" in result.stderr
    assert (tmp_path / "taken" / "file").read_text() == "mine"
    result = runner.invoke(cli, ["new", "My_Pipeline", "--dir", str(tmp_path)])
    assert result.exit_code == 1 and "'My_Pipeline' is not a valid pipeline name" in result.stderr


def test_the_field_reference_in_docs_is_current(runner):
    from conftest import ROOT

    result = runner.invoke(cli, ["schema", "--format", "markdown"])
    with open(os.path.join(ROOT, "docs", "spec.md")) as f:
        assert f.read() == result.stdout, "regenerate: water schema --format markdown > docs/spec.md"


def test_every_command_s_help_ends_with_examples(runner):
    for name in COMMANDS:
        result = runner.invoke(cli, [name, "--help"])
        assert "Examples:\n    water " in result.stdout, name


def test_formats_are_chosen_with_o_and_the_old_spellings_still_work_unlisted(runner, tmp_path):
    for command in (["graph", example_path("babyweight")], ["schema"]):
        assert "--format" not in runner.invoke(cli, [*command, "--help"]).stdout
    dot = runner.invoke(cli, ["graph", example_path("babyweight"), "-o", "dot"]).stdout
    assert dot.startswith("digraph") and dot == runner.invoke(cli, ["graph", example_path("babyweight"),
                                                                    "--format", "dot"]).stdout
    assert "--out " not in runner.invoke(cli, ["render", "--help"]).stdout
    assert runner.invoke(cli, ["render", example_path("babyweight"), "--dir", str(tmp_path / "m")]).exit_code == 0
    assert sorted(os.listdir(tmp_path / "m"))[1:] == ["cronworkflow-babyweight.yaml", "workflowtemplate-babyweight.yaml"]


def test_run_of_a_folder_without_local_says_to_add_it(runner, tmp_path):
    result = runner.invoke(cli, ["run", example_path("demo")])
    assert result.exit_code == 2
    assert f"'{example_path('demo')}' is a folder: to run it on this machine add --local" in result.stderr


def test_deploy_warns_of_the_placeholder_account_and_of_secrets_the_namespace_lacks(memory_cluster, tmp_path,
                                                                                   runner, datadog):
    shutil.copytree(example_path("babyweight"), tmp_path / "p")
    spec = tmp_path / "p" / "water.yaml"

    def deployed() -> list:
        result = runner.invoke(cli, ["deploy", str(tmp_path / "p"), "-y"],
                               obj={"cluster": lambda target: memory_cluster.at(target.namespace)})
        assert result.exit_code == 0, result.output
        return [line for line in result.stdout.splitlines() if line.startswith("warning: ")]

    assert deployed() == [
        f"warning: {spec}: line 10 names AWS account 123456789012, the documentation's placeholder: put your account "
        "there",
        "warning: Secret 'slack-webhook' (spec.alerts.slack.webhookSecret) is not in namespace 'ml': the pods that "
        "read it cannot start until it is there"]
    spec.write_text(spec.read_text().replace("123456789012", "111122223333"))
    memory_cluster.at("ml").apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "slack-webhook",
                                                                                     "namespace": "ml"}})
    assert deployed() == []


def test_runs_lists_a_deployed_pipeline_s_runs(water_memory, tmp_path, datadog):
    shutil.copytree(example_path("babyweight"), tmp_path / "p")
    water_memory("deploy", tmp_path / "p")
    water_memory("run", "babyweight")
    rows = json.loads(water_memory("runs", "babyweight", "-o", "json"))
    assert len(rows) == 1 and rows[0]["name"].startswith("babyweight-")


def test_completion_offers_files_for_paths_and_the_deployed_pipelines_for_names(water_memory, memory_cluster,
                                                                                tmp_path, datadog, runner):
    from click.shell_completion import BashComplete

    shutil.copytree(example_path("babyweight"), tmp_path / "p")
    water_memory("deploy", tmp_path / "p")
    complete = BashComplete(cli, {"obj": {"cluster": lambda target: memory_cluster.at(target.namespace)}}, "water",
                            "_WATER_COMPLETE")
    assert [(c.value, c.type) for c in complete.get_completions(["logs"], "ba")] == [("babyweight", "plain")]
    assert [(c.value, c.type) for c in complete.get_completions(["logs"], "x")] == []
    assert [(c.value, c.type) for c in complete.get_completions(["validate"], "pipe")] == [("pipe", "file")]
    assert [(c.value, c.type) for c in complete.get_completions(["run"], "b")] == [("b", "file"),
                                                                                ("babyweight", "plain")]
    unreachable = BashComplete(cli, {"obj": {"cluster": lambda target: 1 / 0}}, "water", "_WATER_COMPLETE")
    assert unreachable.get_completions(["status"], "b") == []
    script = runner.invoke(cli, ["completion", "bash"]).stdout
    assert "_WATER_COMPLETE=bash_complete" in script and "complete -o nosort -F _water_completion water" in script
