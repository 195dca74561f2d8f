"""spec.environments and --env: one spec, deployed to staging and prod with their namespaces, contexts, parameter
defaults and images; every cluster command finds the environment's namespace; edits keep the environment."""
from __future__ import annotations

import json

import pytest

from test_deploy_decisions import _editor

SPEC = """apiVersion: water/v1
kind: Pipeline
metadata: {name: envy}
spec:
  image: registry.example.com/envy:1.0.0
  params: {limit: "10"}
  environments:
    staging: {namespace: default, params: {limit: "100"}}
    prod: {namespace: ml, context: test, params: {limit: "100000"}, image: registry.example.com/envy:1.0.0-prod}
  steps:
    - {name: count, container: {command: [echo, "{{params.limit}}"]}}
"""


def _template(water_memory_or_objects, namespace):
    return water_memory_or_objects[("WorkflowTemplate", namespace, "envy")]


def test_one_spec_deploys_to_each_environment_with_its_settings(tmp_path, water_memory, memory_cluster,
                                                                  monkeypatch):
    (tmp_path / "water.yaml").write_text(SPEC)
    monkeypatch.chdir(tmp_path)
    water_memory("deploy", "--env", "staging")
    water_memory("deploy", "--env", "prod")
    staging, prod = (memory_cluster.objects[("WorkflowTemplate", ns, "envy")] for ns in ("default", "ml"))
    assert staging["spec"]["arguments"]["parameters"] == [{"name": "limit", "value": "100"}]
    assert prod["spec"]["arguments"]["parameters"] == [{"name": "limit", "value": "100000"}]
    images = {t["container"]["image"] for t in prod["spec"]["templates"] if "container" in t}
    assert images == {"registry.example.com/envy:1.0.0-prod"}
    history = json.loads(water_memory("history", "envy", "--env", "prod", "-o", "json"))
    assert history[0]["env"] == "prod"
    assert "envy" in water_memory("status", "--env", "staging")  # the environment's namespace, from this folder
    assert water_memory("diff", "--env", "prod").count("unchanged") >= 1


def test_edit_keeps_the_environment_it_edits(tmp_path, water_memory, memory_cluster, monkeypatch):
    (tmp_path / "water.yaml").write_text(SPEC)
    monkeypatch.chdir(tmp_path)
    water_memory("deploy", "--env", "prod")
    _editor(tmp_path, monkeypatch, ["command: [echo,", "command: [printf,"])
    out = water_memory("edit", "envy", "-n", "ml")
    assert "revision 2 recorded" in out
    prod = memory_cluster.objects[("WorkflowTemplate", "ml", "envy")]
    assert prod["spec"]["arguments"]["parameters"] == [{"name": "limit", "value": "100000"}]  # not spec.params'
    assert {t["container"]["image"] for t in prod["spec"]["templates"] if "container" in t} == {
        "registry.example.com/envy:1.0.0-prod"}


@pytest.mark.parametrize("args, message", [
    (["deploy", "--env", "qa"], "--env qa: "),
    (["status", "other", "--env", "prod"], "--env prod needs the pipeline's water.yaml: run it in the project's folder"),
])
def test_an_environment_that_is_not_there_is_one_line(tmp_path, water_memory, monkeypatch, args, message):
    (tmp_path / "water.yaml").write_text(SPEC)
    monkeypatch.chdir(tmp_path)
    out = water_memory(*args, code=2)
    assert message in out
    if args[0] == "deploy":
        assert "has no such environment (spec.environments: prod, staging)" in out


def test_an_environments_unknown_parameter_is_located(tmp_path):
    from water import pipeline
    from water.errors import SpecError

    (tmp_path / "water.yaml").write_text(SPEC.replace('params: {limit: "100"}', 'params: {limti: "100"}'))
    with pytest.raises(SpecError, match=r"water.yaml:8:44: spec.environments.staging.params.limti: unknown parameter "
                                        r"'limti' \(did you mean 'limit'"):
        pipeline.load(str(tmp_path))


def test_the_environments_context_is_the_one_talked_to(tmp_path, water, apiserver, monkeypatch):
    (tmp_path / "water.yaml").write_text(SPEC.replace("staging: {namespace: default,", "staging: {namespace: default, "
                                                      "context: elsewhere,"))
    monkeypatch.chdir(tmp_path)
    out = water("status", "--env", "staging", code=1)
    assert "elsewhere" in out and len(out.strip().splitlines()) == 1
    water("deploy", "--env", "prod", "-y")  # context test, namespace ml: the emulator's
    assert ("argoproj.io/v1alpha1/workflowtemplates", "ml", "envy") in apiserver.api.objects
    # --context wins over the environment's; its namespace (default) holds no envy
    assert water("status", "--context", "test", "--env", "staging").splitlines()[1:] == []
    assert "envy" in water("status", "--env", "prod")


def test_a_rollback_is_recorded_as_the_environment_it_rolls_back(tmp_path, water_memory, memory_cluster, monkeypatch):
    (tmp_path / "water.yaml").write_text(SPEC)
    monkeypatch.chdir(tmp_path)
    water_memory("deploy", "--env", "prod")
    (tmp_path / "water.yaml").write_text(SPEC.replace("command: [echo,", "command: [printf,"))
    water_memory("deploy", "--env", "prod")
    assert "revision 3 recorded" in water_memory("rollback", "envy", "--env", "prod", "-y")
    history = json.loads(water_memory("history", "envy", "--env", "prod", "-o", "json"))
    assert [(r["number"], r.get("env")) for r in history] == [(3, "prod"), (2, "prod"), (1, "prod")]
