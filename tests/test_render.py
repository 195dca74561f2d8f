"""Rendered manifests: schema-valid, hardened, deterministic, small, and safe from Argo's templating."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import EXAMPLES, ROOT, example_path, render_objects, step_configs
from water import pipeline as pipeline_mod
from water import render as render_mod
from water.render import yamlout

GOLDEN = os.path.join(ROOT, "tests", "golden")


def _docs_of_every_example():
    for name in EXAMPLES:
        for obj in render_objects(example_path(name)):
            yield name, obj


def _with_via_cronjob(project):
    return project("babyweight", lambda t: t.replace("via: cronworkflow", "via: cronjob"))


def _templates(doc):
    return doc["spec"]["templates"]


# --- schemas ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_renders_to_documents_valid_against_their_official_schemas(name, argo_errors, k8s_errors):
    objects = render_objects(example_path(name))
    assert objects
    for obj in objects:
        errors = argo_errors(obj) if obj["apiVersion"].startswith("argoproj.io") else k8s_errors(obj)
        assert errors == [], f"{name} {obj['kind']}: {errors[:5]}"


def test_the_submitter_cronjob_is_valid_kubernetes(project, k8s_errors, argo_errors):
    objects = render_objects(_with_via_cronjob(project))
    assert [o["kind"] for o in objects] == ["WorkflowTemplate", "CronJob", "ConfigMap"]
    assert argo_errors(objects[0]) == []
    assert k8s_errors(objects[1]) == []


def test_the_strict_schema_check_catches_a_misspelt_field(argo_errors):
    doc = render_objects(example_path("babyweight"))[0]
    doc["spec"]["templates"][1]["retryStrategyy"] = doc["spec"]["templates"][1].pop("retryStrategy")
    assert any("retryStrategyy" in e for e in argo_errors(doc))


def test_new_project_renders_to_valid_documents(tmp_path, argo_errors):
    from water.scaffold import create

    objects = render_objects(create("recsys", str(tmp_path)))
    assert [o["kind"] for o in objects] == ["WorkflowTemplate", "CronWorkflow", "ConfigMap"]
    for obj in objects[:2]:
        assert argo_errors(obj) == []


# --- scheduling defaults -----------------------------------------------------------------------------------------

def test_cron_workflow_carries_the_schedule_and_safe_defaults():
    template, cron, _ = render_objects(example_path("babyweight"))
    spec = cron["spec"]
    assert spec["schedules"] == ["0 3 * * *"]
    assert spec["timezone"] == "Asia/Tokyo"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] > 0
    assert spec["workflowSpec"] == {"workflowTemplateRef": {"name": template["metadata"]["name"]}}
    assert "onExit" not in spec["workflowSpec"]  # not allowed on a CronWorkflow: it lives in the template


def test_plain_cronjob_has_every_scheduling_default_users_rarely_know():
    (cronjob,) = render_objects(example_path("nightly-report"))
    spec = cronjob["spec"]
    job = spec["jobTemplate"]["spec"]
    pod = job["template"]["spec"]
    assert spec["timeZone"] == "America/New_York"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] == 3600
    assert job["backoffLimit"] == 1
    assert job["activeDeadlineSeconds"] >= pod["activeDeadlineSeconds"] * 2
    assert job["ttlSecondsAfterFinished"] > 0
    assert pod["restartPolicy"] == "Never"  # podFailurePolicy needs it
    assert {r["action"] for r in job["podFailurePolicy"]["rules"]} == {"FailJob", "Ignore"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["containers"][0]["command"] == ["water-job"]


@pytest.mark.parametrize("name", ["babyweight", "demo"])
def test_neither_argo_nor_a_cronjob_retries_what_water_job_calls_bad_input(name):
    from water.runtime.main import main as water_job

    bad_input = water_job(["athena", "--config", "not base64"])  # what the runtime answers for bad input
    retried = [t for t in render_objects(example_path(name))[0]["spec"]["templates"] if "retryStrategy" in t]
    assert retried and all(t["retryStrategy"]["expression"] == f'lastRetry.exitCode != "{bad_input}"'
                           for t in retried)  # Argo's exit code is a string; "-1" (no exit code) is retried
    (cronjob,) = render_objects(example_path("nightly-report"))
    (fail,) = [r for r in cronjob["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"]
               if r["action"] == "FailJob"]
    assert fail["onExitCodes"]["values"] == [bad_input]


def test_secrets_reach_pods_by_reference_only():
    (cronjob,) = render_objects(example_path("nightly-report"))
    env = {e["name"]: e for e in cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SMTP_PASSWORD"] == {"name": "SMTP_PASSWORD",
                                    "valueFrom": {"secretKeyRef": {"name": "smtp", "key": "password"}}}


# --- hardening -----------------------------------------------------------------------------------------------------

def _assert_hardened_container(container, where):
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False, where
    assert sc["readOnlyRootFilesystem"] is True, where
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] >= 10000, where
    assert sc["capabilities"] == {"drop": ["ALL"]}, where
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, where
    assert sc.get("privileged") is False, where
    res = container["resources"]
    assert set(res["limits"]) >= {"cpu", "memory"} and res["limits"] == res["requests"], where
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], where


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_argo_template_and_pod_is_hardened(name):
    for obj in render_objects(example_path(name)):
        if obj["kind"] != "WorkflowTemplate":
            continue
        spec = obj["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert {"name": "tmp", "emptyDir": {}} in spec["volumes"]
        assert "hostNetwork" not in json.dumps(spec)
        containers = [t for t in spec["templates"] if "container" in t]
        assert containers
        for template in containers:
            _assert_hardened_container(template["container"], f"{name}/{template['name']}")
            assert template["activeDeadlineSeconds"] > 0
            # a failed step's message (water-job's reason, else its log's end) reaches the exit handler
            assert template["container"]["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_pods_are_labelled_for_water_and_datadog():
    template = render_objects(example_path("babyweight"))[0]
    labels = template["spec"]["podMetadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "water"
    assert labels["water/pipeline"] == "babyweight"
    assert labels["tags.datadoghq.com/service"] == "babyweight"
    assert labels["tags.datadoghq.com/version"] == "1.4.0"
    assert "ad.datadoghq.com/main.logs" in template["spec"]["podMetadata"]["annotations"]
    env = {e["name"]: e for e in _templates(template)[1]["container"]["env"]}
    assert env["DD_AGENT_HOST"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP"
    assert env["DD_SERVICE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.labels['tags.datadoghq.com/service']"


@pytest.mark.parametrize("statsd, expected", [
    ("none", {}),
    ("datadog-agent.datadog.svc:8125", {"DD_AGENT_HOST": {"value": "datadog-agent.datadog.svc"},
                                        "DD_DOGSTATSD_PORT": {"value": "8125"}}),
    ("statsd.local", {"DD_AGENT_HOST": {"value": "statsd.local"}}),
])
def test_the_dogstatsd_transport_is_a_setting(project, statsd, expected):
    path = project("babyweight", lambda t: t.replace("monitors: true", f"monitors: true, statsd: '{statsd}'"))
    env = {e["name"]: {k: v for k, v in e.items() if k != "name"}
           for e in _templates(render_objects(path)[0])[1]["container"]["env"]}
    assert {k: v for k, v in env.items() if k in ("DD_AGENT_HOST", "DD_DOGSTATSD_PORT")} == expected
    assert env["DATADOG_TAGS"] == {"value": "team:ml"}  # the spec's tags ride on every metric


CHECKOV_POD_SECURITY = [
    "CKV_K8S_10", "CKV_K8S_11", "CKV_K8S_12", "CKV_K8S_13",  # requests and limits
    "CKV_K8S_16", "CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19",  # privileged, host PID/IPC/network
    "CKV_K8S_20", "CKV_K8S_22", "CKV_K8S_23", "CKV_K8S_25",  # escalation, read-only root, root, added caps
    "CKV_K8S_28", "CKV_K8S_29", "CKV_K8S_30", "CKV_K8S_31",  # NET_RAW, security contexts, seccomp
    "CKV_K8S_37", "CKV_K8S_38", "CKV_K8S_39", "CKV_K8S_40",  # capabilities, token automount, SYS_ADMIN, high UID
]


def _checkov():
    import shutil

    found = shutil.which("checkov", path=os.path.dirname(sys.executable))
    assert found, "checkov is not installed: run installer/install.sh --test"
    return found


@pytest.mark.parametrize("case", ["runner-cronjob", "via-cronjob"])
def test_checkov_pod_security_checks_pass_on_every_rendered_cronjob(case, project, tmp_path):
    path = example_path("nightly-report") if case == "runner-cronjob" else _with_via_cronjob(project)
    (cronjob,) = [o for o in render_objects(path) if o["kind"] == "CronJob"]
    manifest = tmp_path / "cronjob.yaml"
    manifest.write_text(render_mod.to_yaml([cronjob]))
    done = subprocess.run([_checkov(), "--skip-download", "--framework", "kubernetes", "-f", str(manifest),
                           "--check", ",".join(CHECKOV_POD_SECURITY), "-o", "json"],
                          capture_output=True, text=True, timeout=300)
    report = json.loads(done.stdout)
    results = report["results"]
    failed = [(c["check_id"], c["check_name"]) for c in results["failed_checks"]]
    assert failed == []
    passed = {c["check_id"] for c in results["passed_checks"]}
    skipped = {c["check_id"] for c in results["skipped_checks"]}
    # Every check ran; the submitter alone skips token automount (argo submit needs the API), annotated with why.
    assert passed | skipped == set(CHECKOV_POD_SECURITY)
    assert skipped == (set() if case == "runner-cronjob" else {"CKV_K8S_38"})


# --- determinism, golden files, size ---------------------------------------------------------------------------

def _render_in_fresh_process(path, seed):
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    code = "import sys; from water.cli import main; sys.argv=['water','render',sys.argv[1]]; main()"
    done = subprocess.run([sys.executable, "-c", code, path], capture_output=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_same_spec_renders_to_the_same_bytes_across_processes(project):
    path = str(project("babyweight"))  # a temp copy: no git commit to annotate
    first, second = _render_in_fresh_process(path, 1), _render_in_fresh_process(path, 2)
    assert first == second and len(first) > 1000


@pytest.mark.parametrize("name", EXAMPLES)
def test_rendering_matches_the_golden_file(name, project):
    # Rendered from a copy outside git, so no commit annotation; WATER_UPDATE_GOLDEN=1 rewrites the files.
    text = render_mod.to_yaml(render_objects(project(name)))
    golden = os.path.join(GOLDEN, f"{name}.yaml")
    if os.environ.get("WATER_UPDATE_GOLDEN"):
        with open(golden, "w") as f:
            f.write(text)
    with open(golden) as f:
        assert text == f.read()


def test_git_commit_is_annotated_when_given():
    p = pipeline_mod.load(example_path("demo"))
    template, _ = render_mod.render(p, git_commit="0123abc").objects
    assert template["metadata"]["annotations"]["water/git-commit"] == "0123abc"
    assert template["metadata"]["annotations"]["water/spec-hash"] == p.source_hash


def test_spec_hash_follows_the_sql_file_not_just_the_yaml(project):
    path = project("babyweight")
    before = pipeline_mod.load(str(path)).source_hash
    sql = path / "sql" / "extract.sql"
    sql.write_text(sql.read_text() + "\n-- changed\n")
    assert pipeline_mod.load(str(path)).source_hash != before


def _chain_spec(steps: int, kinds_of_resources: int = 10, name: str = "s") -> str:
    lines = ["apiVersion: water/v1", "kind: Pipeline", "metadata: {name: big}", "spec:",
             "  image: registry.example.com/big:1.0.0", "  steps:"]
    for i in range(steps):
        after = f", after: [{name}{i - 1}]" if i % 10 else ""
        cpu = 100 * (1 + i % kinds_of_resources)
        lines.append(f"    - {{name: {name}{i}{after}, resources: {{cpu: {cpu}m}}, container: {{command: [echo, s{i}]}}}}")
    return "\n".join(lines) + "\n"


def test_steps_with_the_same_settings_share_one_template(tmp_path):
    (tmp_path / "water.yaml").write_text(_chain_spec(200))
    template, _ = render_objects(str(tmp_path))
    names = [t["name"] for t in _templates(template)]
    assert names == ["main", "container"] + [f"container-{n}" for n in range(2, 11)]
    assert len(_templates(template)[0]["dag"]["tasks"]) == 200


def test_a_large_object_is_warned_about(tmp_path):
    spec = _chain_spec(6000, 1, name="a-step-with-a-long-name-")
    (tmp_path / "water.yaml").write_text(spec)
    rendered = render_mod.render(pipeline_mod.load(str(tmp_path)))
    assert len(rendered.warnings) == 1 and "WorkflowTemplate big is" in rendered.warnings[0]


def test_long_inline_texts_leave_the_template_for_as_many_configmaps_as_they_fill(tmp_path):
    spec = _chain_spec(3000, 1).replace("[echo, s", "[echo, " + "x" * 600 + ", s")
    (tmp_path / "water.yaml").write_text(spec)
    rendered = render_mod.render(pipeline_mod.load(str(tmp_path)))
    assert rendered.warnings == []
    template, *maps = rendered.objects
    assert len(maps) > 2 and [m["metadata"]["name"] for m in maps] == [
        f"{maps[0]['metadata']['name'][:-2]}-{n}" for n in range(len(maps))]
    assert all(len(render_mod.to_json(m)) < 1024 * 1024 for m in maps)
    assert template["spec"]["volumes"][1]["projected"]["sources"] == [
        {"configMap": {"name": m["metadata"]["name"]}} for m in maps]
    assert len(step_configs(maps)) == 3000


def test_a_gitops_controller_is_told_to_leave_an_old_steps_set_to_the_runs_that_mount_it():
    *_, steps = render_objects(example_path("babyweight"))
    assert steps["kind"] == "ConfigMap" and steps["metadata"]["annotations"] == {
        "argocd.argoproj.io/sync-options": "Prune=false", "kustomize.toolkit.fluxcd.io/prune": "disabled"}


def test_a_task_config_the_api_server_would_refuse_is_refused_with_its_size(tmp_path):
    spec = _chain_spec(2, 1).replace("[echo, s1", "[echo, " + "x" * (1024 * 1024 + 1) + ", s1")
    (tmp_path / "water.yaml").write_text(spec)
    rendered = render_mod.render(pipeline_mod.load(str(tmp_path)))
    (said,) = rendered.too_large
    assert said.startswith("ConfigMap big-steps-") and " holds 1.00 MiB: the API server takes at most 1 MiB" in said


# --- sizing --------------------------------------------------------------------------------------------------------

def test_sizing_inserts_a_size_task_and_wires_pod_patch_and_fan_out():
    template = render_objects(example_path("babyweight"))[0]
    tasks = {t["name"]: t for t in _templates(template)[0]["dag"]["tasks"]}
    size, publish = tasks["water-size-publish"], tasks["publish"]
    assert size["dependencies"] == ["predict"]
    assert publish["dependencies"] == ["predict", "water-size-publish"]
    assert publish["withParam"] == "{{tasks.water-size-publish.outputs.parameters.shards}}"
    args = {a["name"]: a["value"] for a in publish["arguments"]["parameters"]}
    assert args["shard"] == "{{item}}"
    assert args["pod-patch"] == "{{tasks.water-size-publish.outputs.parameters.pod-patch}}"
    by_name = {t["name"]: t for t in _templates(template)}
    assert by_name[publish["template"]]["podSpecPatch"] == "{{inputs.parameters.pod-patch}}"
    size_config = step_configs(render_objects(example_path("babyweight")))["water-size-publish"]
    assert size_config["from"] == "predict"
    assert [t.get("upTo") for t in size_config["tiers"]] == [2**30, 20 * 2**30, None]
    assert [t.get("parallelism") for t in size_config["tiers"]] == [None, 4, 16]


def test_a_sized_train_step_reads_its_instance_from_the_size_task(project):
    def edit(text):
        return text.replace("        maxRuntime: 1h\n", "        maxRuntime: 1h\n      sizing:\n        from: features\n"
                            "        tiers:\n          - {upTo: 10Gi, instance: {type: ml.m5.xlarge}}\n"
                            "          - instance: {type: ml.m5.4xlarge, count: 2}\n")
    template = render_objects(project("babyweight", edit))[0]
    tasks = {t["name"]: t for t in _templates(template)[0]["dag"]["tasks"]}
    refs = json.loads({a["name"]: a["value"] for a in tasks["train"]["arguments"]["parameters"]}["refs"])
    assert refs["sizing.instance-type"] == "{{tasks.water-size-train.outputs.parameters.instance-type}}"
    assert "withParam" not in tasks["train"]


# --- expressions and injection ---------------------------------------------------------------------------------

ARGO_VARIABLES_WATER_EMITS = re.compile(
    r"^\{\{(workflow\.(name|status|failures|duration|creationTimestamp|scheduledTime|parameters\.[A-Za-z_]\w*)|retries"
    r"|inputs\.parameters\.[a-z-]+|tasks\.[a-z0-9-]+\.outputs\.parameters\.[a-z-]+|item|tasks\.name)\}\}$")


def _all_strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _all_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _all_strings(v)
    elif isinstance(value, str):
        yield value


@pytest.mark.parametrize("name", EXAMPLES)
def test_argo_sees_only_variables_water_emitted(name):
    for obj in render_objects(example_path(name)):
        if obj["kind"] in ("EventSource", "ConfigMap"):
            continue  # read by Argo Events only; the steps' configs, mounted by the kubelet as files
        if obj["kind"] == "Sensor":  # its Go templates are Argo Events'; the Workflow it creates is Argo's to read
            obj = [t["template"]["k8s"]["source"]["resource"] for t in obj["spec"]["triggers"]]
        for text in _all_strings(obj):
            for tag in re.findall(r"\{\{.*?\}\}", text):
                assert ARGO_VARIABLES_WATER_EMITS.match(tag), f"{name}: Argo would evaluate {tag!r} in {text!r}"


def test_user_text_that_looks_like_argo_is_never_evaluated(tmp_path):
    spec = """apiVersion: water/v1
kind: Pipeline
metadata: {name: inject}
spec:
  image: registry.example.com/inject:1.0.0
  steps:
    - name: extract
      env: {NOTE: "{{ '{{' }}workflow.name}} stays text"}
      athena:
        database: lake
        query: "SELECT '{{ '{{' }}workflow.parameters.x}}' AS t, '}}' AS u"
        output: s3://bucket/{{run.id}}/
"""
    (tmp_path / "water.yaml").write_text(spec)
    template, steps = render_objects(str(tmp_path))
    for text in _all_strings(template):
        for tag in re.findall(r"\{\{.*?\}\}", text):
            assert ARGO_VARIABLES_WATER_EMITS.match(tag), tag
    config = step_configs([steps])["extract"]
    # The runtime receives the text as written; its literal-brace expression resolves to '{{' there.
    assert config["spec"]["query"] == "SELECT '{{ '{{' }}workflow.parameters.x}}' AS t, '}}' AS u"
    from water.expressions import substitute

    assert substitute(config["spec"]["query"], {}) == "SELECT '{{workflow.parameters.x}}' AS t, '}}' AS u"
    assert substitute(config["env"]["NOTE"], {}) == "{{workflow.name}} stays text"


def test_a_bare_argo_variable_in_user_text_is_rejected_not_passed_on(tmp_path, runner):
    from water.cli import cli

    spec = (tmp_path / "water.yaml")
    spec.write_text("apiVersion: water/v1\nkind: Pipeline\nmetadata: {name: x}\nspec:\n"
                    "  image: registry.example.com/x:1.0.0\n  steps:\n"
                    "    - name: a\n      container: {command: [echo, '{{workflow.name}}']}\n")
    result = runner.invoke(cli, ["render", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "water.yaml:8:36: spec.steps[0].container.command[1]: unknown expression '{{workflow.name}}'" in result.stderr


def test_a_task_that_reads_no_upstream_output_takes_the_templates_empty_refs():
    template = render_objects(example_path("babyweight"))[0]
    tasks = {t["name"]: t for t in _templates(template)[0]["dag"]["tasks"]}
    by_name = {t["name"]: t for t in _templates(template)}
    extract = tasks["extract"]
    assert "arguments" not in extract  # its config is read under its name: {{tasks.name}}
    assert by_name[extract["template"]]["inputs"]["parameters"] == [{"name": "refs", "value": "{}"}]
    args = by_name[extract["template"]]["container"]["args"]
    assert args[args.index("--config-key") + 1] == "{{tasks.name}}"


def test_references_compile_to_argo_task_outputs_and_workflow_variables():
    template = render_objects(example_path("babyweight"))[0]
    tasks = {t["name"]: t for t in _templates(template)[0]["dag"]["tasks"]}
    refs = json.loads({a["name"]: a["value"] for a in tasks["predict"]["arguments"]["parameters"]}["refs"])
    assert refs == {"steps.train.model": "{{tasks.train.outputs.parameters.model}}"}
    env = {e["name"]: e.get("value") for e in _templates(template)[1]["container"]["env"]}
    assert env["WATER_RUN_ID"] == "{{workflow.name}}"
    assert env["WATER_PARAM_limit"] == "{{workflow.parameters.limit}}"
    assert template["spec"]["arguments"]["parameters"] == [{"name": "limit", "value": "100000"}]


def test_outputs_are_declared_as_argo_output_parameters():
    template = render_objects(example_path("babyweight"))[0]
    by_name = {t["name"]: t for t in _templates(template)}
    outputs = {p["name"]: p["valueFrom"]["path"] for p in by_name["train"]["outputs"]["parameters"]}
    assert outputs == {"output": "/tmp/water/outputs/output", "model": "/tmp/water/outputs/model",
                       "cost": "/tmp/water/outputs/cost"}  # the pod's own, for status and Slack


# --- exit handler ----------------------------------------------------------------------------------------------

def test_slack_alerts_add_an_exit_handler_for_failures_only_by_default():
    template = render_objects(example_path("babyweight"))[0]
    assert template["spec"]["onExit"] == "exit-handler"
    handler = next(t for t in _templates(template) if t["name"] == "exit-handler")
    (steps,) = handler["steps"]
    assert [s["name"] for s in steps] == ["notify-failure", "stop-aws-jobs"]
    assert steps[0]["when"] == steps[1]["when"] == "{{workflow.status}} != Succeeded"
    notify = next(t for t in _templates(template) if t["name"] == "notify")
    env = {e["name"]: e["valueFrom"] for e in notify["container"]["env"] if "valueFrom" in e}
    assert env["SLACK_WEBHOOK_URL"]["secretKeyRef"] == {"name": "slack-webhook", "key": "url"}
    # links set at install time; optional, so a namespace without water-settings still runs the handler
    assert env["WATER_ARGO_URL"]["configMapKeyRef"] == {"name": "water-settings", "key": "argo-url", "optional": True}


def test_success_notifications_do_not_read_workflow_failures(project):
    path = project("babyweight", lambda t: t.replace("on: [failure]", "on: [failure, success]"))
    handler = next(t for t in _templates(render_objects(path)[0]) if t["name"] == "exit-handler")
    success = next(s for s in handler["steps"][0] if s["name"] == "notify-success")
    assert "workflow.failures" not in json.dumps(success)  # absent when nothing failed


def test_a_run_that_did_not_succeed_stops_the_aws_jobs_its_steps_left_running():
    template, steps = render_objects(example_path("demo"))  # no Slack: the handler only cleans up
    handler = next(t for t in _templates(template) if t["name"] == "exit-handler")
    ((stop,),) = handler["steps"]
    assert stop["name"] == "stop-aws-jobs" and stop["when"] == "{{workflow.status}} != Succeeded"
    cleanup = next(t for t in _templates(template) if t["name"] == stop["template"])
    assert cleanup["container"]["args"][-2:] == ["--config-key", "water-cleanup"]  # a step of steps: no tasks.name
    config = step_configs([steps])["water-cleanup"]
    assert config["kind"] == "cleanup"
    # only what finds each job: names follow from pipeline, step and run; Athena's marker from its output
    assert config["steps"] == [
        {"step": "extract", "kind": "athena", "spec": {"output": "s3://water-demo/runs/{{run.id}}/extract/",
                                                       "workgroup": "primary"}},
        {"step": "features", "kind": "glue", "spec": {"job": "demo-features"}},
        {"step": "train", "kind": "train", "spec": {}},
        {"step": "predict", "kind": "transform", "spec": {}}]
    cleanup = next(t for t in _templates(template) if t["name"] == stop["template"])
    assert cleanup["container"]["args"][:1] == ["cleanup"] and cleanup["retryStrategy"]["limit"] == 2


def test_container_steps_alone_need_no_exit_handler(tmp_path):
    (tmp_path / "water.yaml").write_text(_chain_spec(3))
    template, _ = render_objects(str(tmp_path))
    assert "onExit" not in template["spec"]


def test_yaml_and_json_outputs_describe_the_same_objects():
    objects = render_objects(example_path("babyweight"))
    assert list(yaml.safe_load_all(render_mod.to_yaml(objects))) == objects
    assert json.loads(render_mod.to_json_list(objects))["items"] == objects


def test_manifests_have_no_yaml_anchors_and_quote_what_would_read_back_as_another_type():
    objects = render_objects(example_path("babyweight"))
    text = render_mod.to_yaml(objects)
    assert "&id" not in text and "*id" not in text  # shared dicts are written out in full
    assert "value: '100000'" in text  # a string that looks like a number stays a string
    assert list(yaml.safe_load_all(text)) == objects


def _emitted(objects) -> str:
    """What PyYAML's C dumper writes for the objects (its resolver also knowing what Go's readers take for
    numbers and booleans): the reference the direct writer must match."""
    return yaml.dump_all(objects, Dumper=yamlout.dumper(), explicit_start=True, default_flow_style=False,
                         sort_keys=False, width=1 << 20, allow_unicode=True)


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_direct_yaml_writer_writes_exactly_what_libyaml_would(name):
    objects = render_objects(example_path(name))
    assert render_mod.to_yaml(objects) == _emitted(objects)


def test_the_direct_yaml_writer_quotes_every_odd_string_as_libyaml_does():
    import random

    rnd = random.Random(7)
    alphabet = "ab09_-./=+:#'\" \t{}[],&*!|>%@`?~ü\x07\\"
    words = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 8))) for _ in range(5000)]
    numeric = "0123456789_.:-+eExXbB "
    words += ["".join(rnd.choice(numeric) for _ in range(rnd.randint(1, 7))) for _ in range(3000)]
    words += ["true", "false", "null", "1", "1.5", "-1", "0x1f", "1e5", ".inf", "yes", "No", "~", "2001-12-14",
              "1:30", "0o17", "+1", "_", "-", "---", "...", "<<", "=", "ON", "\ufeffx", "😀", "a\tb", "a\xa0b", "\ue000", "✓ ok", "\x7f",
              "2001-12-14t21:59:43.10-05:00", "190:20:30", "0b1010", "-.inf", ".NaN", "685_230", "3e5a", "0xFF",
              "Yes", "YES", "On", "Off", "OFF", "NULL", "Null", "True", "FALSE", "nan", "inf", "e5", "E5", "x1f",
              "b.1", "y", "n", "Y", "N", "eyJhIjoxfQ==", "1e3", "1e3_", "0O17", "0X1F", "-0b1", "1_000", "012", "a-", "a.", "a/", "Z+", "a=", "a:b", "a#b"]
    objects = [{"k": words[i:i + 50], "nested": [[w], {w: {}}, []], w: w} for i, w in zip(range(0, len(words), 50),
                                                                                            words[::50])]
    assert render_mod.to_yaml(objects) == _emitted(objects)
    for laid_out_by_the_emitter in ({"k": "a\nb"}, {"k": "x\x85"}, {"k" * 130: "v"}):
        assert render_mod.to_yaml(objects + [laid_out_by_the_emitter]) == _emitted(objects + [laid_out_by_the_emitter])


# Texts that Go's YAML readers (kubectl, the API server: sigs.k8s.io/yaml over go.yaml.in/yaml/v2) read as
# something else than a string when written plain: booleans of YAML 1.1 (y, n, on, off...), Go's numbers
# (strconv.ParseInt with base 0 after dropping `_`, yamlStyleFloat without a dot), timestamps, null.
GO_ODD = ["n", "y", "Y", "N", "on", "off", "NO", "yes", "0x1F", "0X1F", "0o17", "1e3", "012", "1_000", "~",
          "2026-01-01", "1:30", ".inf", "-.5", "0b101", "null", "true"]


def _kubectl_read(path) -> list:
    """The objects of a YAML file as kubectl decodes them, offline (`annotate --local` prints each as JSON)."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not installed: run installer/install.sh --test (Debian's kubernetes-client)"
    out = subprocess.run([kubectl, "annotate", "--local", "-f", str(path), "water-test=read", "-o", "json"],
                         capture_output=True, text=True, check=True).stdout
    decoder, objects, at = json.JSONDecoder(), [], 0
    while out[at:].strip():
        at += len(out[at:]) - len(out[at:].lstrip())
        obj, at = decoder.raw_decode(out, at)
        annotations = obj["metadata"]["annotations"]
        del annotations["water-test"]
        if not annotations:  # the object had none
            del obj["metadata"]["annotations"]
        objects.append(obj)
    return objects


def _go_odd_spec(text: str) -> str:
    labels = "{team: ml, " + ", ".join(f"odd{i}: '{v}'" for i, v in enumerate(GO_ODD) if re.fullmatch(
        r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", v)) + "}"
    params = "{limit: '100000', " + ", ".join(f"odd{i}: '{v}'" for i, v in enumerate(GO_ODD)) + "}"
    return text.replace("labels: {team: ml}", f"labels: {labels}").replace(
        'params: {limit: "100000"}', f"params: {params}")


@pytest.mark.parametrize("name", EXAMPLES + ["babyweight with odd strings"])
def test_kubectl_reads_every_rendered_document_as_render_json_says(name, project, runner, tmp_path):
    from water.cli import cli

    path = project("babyweight", _go_odd_spec) if name.endswith("odd strings") else example_path(name)
    as_yaml = runner.invoke(cli, ["render", str(path), "-o", "yaml"])
    as_json = runner.invoke(cli, ["render", str(path), "-o", "json"])
    assert as_yaml.exit_code == 0 and as_json.exit_code == 0, as_yaml.output + as_json.output
    (tmp_path / "rendered.yaml").write_text(as_yaml.stdout)
    assert _kubectl_read(tmp_path / "rendered.yaml") == json.loads(as_json.stdout)["items"]
    if name.endswith("odd strings"):
        assert "odd0: 'n'" in as_yaml.stdout and "value: 'y'" in as_yaml.stdout


@pytest.mark.parametrize("tag", ["_x", "_" + "a" * 61 + "-.b" + "c" * 20, "x" * 62 + "._y", "1.4.0"])
def test_an_image_tag_docker_takes_becomes_a_label_value_the_api_server_takes(tag, project, k8s_errors):
    path = project("babyweight", lambda text: re.sub(r"(?m)^  image: .*$", f"  image: registry.example.com/bw:{tag}",
                                                      text))
    objects = render_mod.render(pipeline_mod.load(str(path))).objects
    label = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
    for obj in objects:
        for labels in (obj["metadata"]["labels"], obj.get("spec", {}).get("podMetadata", {}).get("labels", {})):
            for key, value in labels.items():
                assert label.fullmatch(value) and len(value) <= 63, (key, value)


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_step_pod_has_the_grace_period_a_bounded_stop_needs(name):
    from water import contract

    for obj in render_objects(example_path(name)):
        if obj["kind"] == "WorkflowTemplate":  # Argo applies the workflow's podSpecPatch to every pod
            assert json.loads(obj["spec"]["podSpecPatch"]) == {"terminationGracePeriodSeconds": contract.GRACE_PERIOD}
        if obj["kind"] == "CronJob" and obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0][
                "command"] == ["water-job"]:
            assert obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 45
