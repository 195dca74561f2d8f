"""{{git.commit}} and {{git.branch}}: what the deploy came from, in the pod from its annotations (the downward
API), locally from the project's git; and the local run's record of it."""
from __future__ import annotations

import json
import subprocess

import pytest

SPEC = """apiVersion: water/v1
kind: Pipeline
metadata: {name: traced}
spec:
  image: registry.example.com/traced:1.0.0
  steps:
    - name: stamp
      container: {command: [sh, -c, 'echo "built from $0 on $1"', "{{git.commit}}", "{{git.branch}}"]}
    - name: plain
      container: {command: [sh, -c, "echo nothing of git"]}
"""


def _repo(tmp_path) -> str:
    (tmp_path / "water.yaml").write_text(SPEC)
    for args in (["init", "-q", "-b", "release"], ["add", "water.yaml"],
                 ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "spec"]):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True)
    return subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_a_local_run_reads_the_projects_git_and_records_it(tmp_path, runner):
    from water.cli import cli

    commit = _repo(tmp_path)
    result = runner.invoke(cli, ["run", "--local", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / ".water" / "runs").glob("*/run.json")]
    assert record["git"] == {"commit": commit, "branch": "release", "dirty": False}
    log = (tmp_path / ".water" / "runs" / record["run_id"] / "steps" / "stamp.log").read_text()
    assert f"built from {commit} on release" in log


def test_the_pod_of_a_step_reading_git_is_told_the_deploys_commit_and_branch(tmp_path, aws_env, monkeypatch, capfd):
    from conftest import pod_config, task_argv, water_job

    from water import pipeline, render

    commit = _repo(tmp_path)
    objects = render.render(pipeline.load(str(tmp_path)), commit, git_branch="release").objects
    (template,) = [o for o in objects if o["kind"] == "WorkflowTemplate"]
    annotations = template["spec"]["podMetadata"]["annotations"]
    assert (annotations["water/git-commit"], annotations["water/git-branch"]) == (commit, "release")
    by_name = {t["name"]: t for t in template["spec"]["templates"]}
    main = next(t for t in by_name["main"]["dag"]["tasks"] if t["name"] == "stamp")
    env = {e["name"]: e for e in by_name[main["template"]]["container"]["env"]}
    assert env["WATER_GIT_BRANCH"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.annotations['water/git-branch']"
    plain = next(t for t in by_name["main"]["dag"]["tasks"] if t["name"] == "plain")
    if plain["template"] != main["template"]:  # a step that reads no git is told nothing of it
        assert "WATER_GIT_COMMIT" not in {e["name"] for e in by_name[plain["template"]]["container"]["env"]}
    # the kubelet resolves the fieldRefs from the pod's annotations; water-job then resolves the expressions
    monkeypatch.setenv("WATER_GIT_COMMIT", commit)
    monkeypatch.setenv("WATER_GIT_BRANCH", "release")
    argv = task_argv(objects, "stamp")
    config = pod_config(argv)
    assert config["spec"]["command"][3:] == ["{{git.commit}}", "{{git.branch}}"]  # resolved in the pod, not by Argo
    assert water_job(argv) == 0
    assert f"built from {commit} on release" in capfd.readouterr().out


def test_git_is_not_something_a_when_compares(tmp_path):
    from water import pipeline
    from water.errors import SpecError

    (tmp_path / "water.yaml").write_text(SPEC.replace("    - name: plain\n", "    - name: plain\n"
                                                      "      when: \"{{git.branch}} == 'main'\"\n"))
    with pytest.raises(SpecError, match=r"spec.steps\[1\].when: \{\{git.branch\}\}: a condition compares what "
                                        r"steps produce"):
        pipeline.load(str(tmp_path))
