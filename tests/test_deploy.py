"""Cluster commands end to end: the CLI, the official client, HTTP, the API server emulator (tests/kubeapi.py)."""
from __future__ import annotations

import json
import threading
import time

import pytest
import yaml
from kubeapi import CORE, RunningApiServer

from water import runs
from water.cli import cli

WT = ("argoproj.io/v1alpha1/workflowtemplates", "ml", "babyweight")
CW = ("argoproj.io/v1alpha1/cronworkflows", "ml", "babyweight")


@pytest.fixture(autouse=True)
def _datadog(datadog):
    """babyweight keeps Datadog monitors: every deploy here talks to the local Datadog API."""
    return datadog


def live(apiserver, kind_key=None):
    """What deploys wrote (the namespaces the cluster started with are not theirs)."""
    return {k: v for k, v in apiserver.api.written().items() if kind_key is None or k[0] == kind_key}


def revisions(apiserver):
    return sorted(int(o["metadata"]["labels"]["water/revision"]) for k, o in apiserver.api.objects.items()
                  if k[0] == "v1/configmaps" and "water/revision" in o["metadata"].get("labels", {}))


def rendered(water, path):
    """What `water render` prints on stdout (its warnings go to stderr)."""
    from click.testing import CliRunner

    from water.cli import cli

    return [d for d in yaml.safe_load_all(CliRunner().invoke(cli, ["render", str(path)]).stdout) if d]


def test_first_deploy_creates_everything_then_is_unchanged(water, apiserver, project):
    path = project("babyweight")
    out = water("deploy", path)
    assert "workflowtemplate.argoproj.io/babyweight created" in out
    assert "cronworkflow.argoproj.io/babyweight created" in out and "revision 1 recorded" in out
    for obj in rendered(water, path):
        if obj["kind"] == "ConfigMap":  # the steps' configs, immutable, under the name of their hash
            stored = apiserver.api.objects[("v1/configmaps", "ml", obj["metadata"]["name"])]
            assert (stored["data"], stored["immutable"]) == (obj["data"], True)
            assert f"configmap/{obj['metadata']['name']} created" in out
            continue
        stored = apiserver.api.objects[(WT[0] if obj["kind"] == "WorkflowTemplate" else CW[0], "ml", "babyweight")]
        assert stored["spec"] == obj["spec"] and stored["metadata"]["labels"] == obj["metadata"]["labels"]
    managers = {m for owners in apiserver.api.owners.values() for m in owners}
    assert managers == {"water"}
    before = {k: v["metadata"]["resourceVersion"] for k, v in live(apiserver).items()}
    again = water("deploy", path)
    assert again.count("unchanged") == 6 and "revision" not in again and "+" not in again  # 3 objects, 3 monitors
    assert {k: v["metadata"]["resourceVersion"] for k, v in live(apiserver).items()} == before
    assert revisions(apiserver) == [1]


def test_injected_500s_are_retried(water, apiserver, project):
    apiserver.api.inject(503, method="PATCH", times=2)
    apiserver.api.inject(500, method="GET", path="workflowtemplates/babyweight", times=1)
    assert "revision 1 recorded" in water("deploy", project("babyweight"))
    assert WT in apiserver.api.objects


def test_server_dry_run_flag_changes_nothing(water, apiserver, project):
    out = water("deploy", project("babyweight"), "--dry-run")
    assert "workflowtemplate.argoproj.io/babyweight created (server dry run)" in out
    assert live(apiserver) == {}
    dry = [r for r in apiserver.api._requests if r.method == "PATCH"]
    assert dry and all(r.params.get("dryRun") == "All" for r in dry)


def test_conflicting_field_manager_is_named_and_force_takes_it_back(water, apiserver, project, kube):
    from kubernetes import client

    path = project("babyweight")
    water("deploy", path)
    client.CustomObjectsApi(kube).patch_namespaced_custom_object(
        "argoproj.io", "v1alpha1", "ml", "cronworkflows", "babyweight", {"spec": {"timezone": "UTC"}})
    spec = path / "water.yaml"
    spec.write_text(spec.read_text().replace("Asia/Tokyo", "Europe/Paris"))
    out = water("deploy", path, code=1)
    assert 'conflict with "OpenAPI-Generator' in out or 'conflict with "unknown"' in out
    assert "--force-conflicts" in out and apiserver.api.objects[CW]["spec"]["timezone"] == "UTC"
    water("deploy", path, "--force-conflicts")
    assert apiserver.api.objects[CW]["spec"]["timezone"] == "Europe/Paris"


def _finish(apiserver, kube, phase, pods=()):
    """What Argo's controller would do: pods with logs, then the workflow's phase."""
    from kubernetes import client

    custom, core = client.CustomObjectsApi(kube), client.CoreV1Api(kube)
    for _ in range(200):
        found = custom.list_namespaced_custom_object("argoproj.io", "v1alpha1", "ml", "workflows")["items"]
        if found:
            break
        time.sleep(0.02)
    name = found[0]["metadata"]["name"]
    for step, text in pods:
        pod = core.create_namespaced_pod("ml", {"metadata": {
            "name": f"{name}-{step}", "labels": {runs.WORKFLOW_LABEL: name},
            "annotations": {runs.NODE_NAME: f"{name}.{step}"}}, "spec": {"containers": [{"name": "main",
                                                                                         "image": "x"}]}})
        apiserver.api.logs[("ml", pod.metadata.name)] = text
        core.patch_namespaced_pod_status(pod.metadata.name, "ml", {"status": {"phase": "Succeeded"}})
    time.sleep(0.1)
    # Argo's controller keeps the phase in a label too, and marks a run that ended (workflow/controller/operator.go)
    labels = {"workflows.argoproj.io/phase": phase, "workflows.argoproj.io/completed": "true"}
    custom.patch_namespaced_custom_object("argoproj.io", "v1alpha1", "ml", "workflows", name, {
        "metadata": {"labels": labels}, "status": {
        "phase": phase, "startedAt": "2026-11-22T10:00:00Z", "finishedAt": "2026-11-22T10:01:30Z",
        "nodes": {f"{name}-{i}": {"type": "Pod", "displayName": s, "phase": phase, "startedAt": "2026-11-22T10:00:00Z",
                                  "finishedAt": "2026-11-22T10:00:30Z"} for i, (s, _) in enumerate(pods)}}})


@pytest.mark.parametrize("phase,code", [("Succeeded", 0), ("Failed", 1)])
def test_run_wait_exits_with_the_run_outcome(water, apiserver, kube, project, phase, code):
    water("deploy", project("babyweight"))
    threading.Thread(target=_finish, args=(apiserver, kube, phase, [("train", "loss 0.1\n")])).start()
    out = water("run", "babyweight", "--param", "limit=9", "--wait", code=code)
    assert out.startswith("workflow/babyweight-") and f"{phase} (" in out
    wf = next(o for k, o in apiserver.api.objects.items() if k[0] == "argoproj.io/v1alpha1/workflows")
    assert wf["spec"] == {"workflowTemplateRef": {"name": "babyweight"},
                          "arguments": {"parameters": [{"name": "limit", "value": "9"}]}}
    assert wf["metadata"]["labels"]["water/pipeline"] == "babyweight"


def test_run_follow_streams_step_logs_and_logs_shows_them(water, apiserver, kube, project):
    water("deploy", project("babyweight"))
    threading.Thread(target=_finish, args=(apiserver, kube, "Succeeded", [("extract", "rows 10\n"),
                                                                          ("train", "loss 0.1\nloss 0.05\n")])).start()
    out = water("run", "babyweight", "--follow")
    assert "[extract] rows 10" in out and "[train] loss 0.05" in out
    assert water("logs", "babyweight", "--step", "train") == "[train] loss 0.1\n[train] loss 0.05\n"
    status = water("status", "babyweight")
    assert "Succeeded" in status and "train" in status and "30s" in status
    summary = json.loads(water("status", "-o", "json"))
    assert summary[0]["name"] == "babyweight" and summary[0]["phase"] == "Succeeded"
    assert summary[0]["schedule"] == "0 3 * * *" and summary[0]["timezone"] == "Asia/Tokyo"


def test_run_rejects_unknown_params_and_undeployed_pipelines(water, project):
    water("deploy", project("babyweight"))
    # bad input: exit 2, as an invalid spec
    assert "unknown parameter 'nope' (declared: limit)" in water("run", "babyweight", "--param", "nope=1", code=2)
    assert water("run", "babyweight", "--param", "limit", code=2) == "--param 'limit': expected NAME=VALUE\n"
    assert "pipeline 'other' is not deployed in namespace 'ml'" in water("run", "other", code=1)


@pytest.mark.namespaces("default", "analytics")
def test_a_plain_cronjob_pipeline_runs_as_a_job(water, apiserver, project):
    water("deploy", project("nightly-report"))
    out = water("run", "nightly-report", "-n", "analytics")
    assert out.startswith("job/nightly-report-manual-")
    job = next(o for k, o in apiserver.api.objects.items() if k[0] == "batch/v1/jobs")
    cron = apiserver.api.objects[("batch/v1/cronjobs", "analytics", "nightly-report")]
    assert job["spec"] == cron["spec"]["jobTemplate"]["spec"]
    assert job["metadata"]["ownerReferences"][0]["uid"] == cron["metadata"]["uid"]


def test_suspend_and_resume(water, apiserver, project):
    path = project("babyweight")
    water("deploy", path)
    assert water("suspend", "babyweight") == "cronworkflow/babyweight suspended\n"
    assert apiserver.api.objects[CW]["spec"]["suspend"] is True
    assert json.loads(water("status", "-o", "json"))[0]["suspended"] is True
    water("resume", "babyweight")
    assert apiserver.api.objects[CW]["spec"]["suspend"] is False
    assert "unchanged" in water("deploy", path)  # water does not own `suspend`


def test_delete_leaves_nothing_labelled(water, apiserver, kube, project):
    path = project("babyweight")
    water("deploy", path)
    water("deploy", path, "--param", "limit=1")
    water("run", "babyweight")
    water("delete", "babyweight", code=2)  # no terminal to ask on: --yes is required
    out = water("delete", "babyweight", "--yes")
    assert "workflow.argoproj.io/babyweight-" in out and "configmap/babyweight-water-rev-2 deleted" in out
    assert not [o for o in apiserver.api.objects.values() if o["metadata"].get("labels", {}).get(
        "water/pipeline") == "babyweight"]
    assert "nothing labelled" in water("delete", "babyweight", "--yes", code=1)


# --- the cluster's own failures: one line, exit 1, no traceback --------------------------------------------

def _one_line_error(runner, args, env=None):
    result = runner.invoke(cli, [str(a) for a in args], env=env)
    assert result.exit_code == 1 and not (result.exception and not isinstance(result.exception, SystemExit))
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.stderr
    return lines[0]


def test_unreachable_cluster(runner, tmp_path, project):
    with RunningApiServer(CORE) as server:
        kubeconfig = server.kubeconfig(tmp_path / "kc")
    line = _one_line_error(runner, ["deploy", project("babyweight"), "--kubeconfig", kubeconfig])
    assert line == f"cannot reach the cluster at {server.url} (context 'test'): connection refused"


def test_missing_kubeconfig_and_context(runner, tmp_path, project, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    line = _one_line_error(runner, ["status"])
    assert line.startswith(f"no usable kubeconfig at {tmp_path / 'none'}")
    with RunningApiServer(CORE) as server:
        kubeconfig = server.kubeconfig(tmp_path / "kc")
        line = _one_line_error(runner, ["status", "--kubeconfig", kubeconfig, "--context", "prod"])
    assert line == "context 'prod' is not in the kubeconfig (have: test)"


@pytest.mark.parametrize("text", ["hello\n", "contexts: 5\n", "a: [\n",
                                  "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\nclusters: 7\n"])
def test_a_kubeconfig_that_is_not_one_is_one_line(runner, tmp_path, text):
    (tmp_path / "kc").write_text(text)
    line = _one_line_error(runner, ["status", "--kubeconfig", str(tmp_path / "kc")])
    assert line == f"no usable kubeconfig at {tmp_path / 'kc'}: not a kubeconfig (set KUBECONFIG or --kubeconfig)"


def test_missing_argo_crds(runner, tmp_path, project):
    with RunningApiServer(CORE) as server:
        line = _one_line_error(runner, ["deploy", project("babyweight"), "--kubeconfig",
                                        server.kubeconfig(tmp_path / "kc")])
        assert server.api.written() == {}
    assert line == ("the cluster has no WorkflowTemplate API (argoproj.io/v1alpha1/workflowtemplates): is Argo "
                    f"Workflows installed? (context 'test', server {server.url})")


def test_forbidden(water, apiserver, runner, project):
    message = ('workflowtemplates.argoproj.io "babyweight" is forbidden: User "dev" cannot patch resource '
               '"workflowtemplates" in API group "argoproj.io" in the namespace "ml"')
    apiserver.api.inject(403, method="PATCH", path="workflowtemplates", message=message)
    path = project("babyweight")
    line = _one_line_error(runner, ["deploy", path])
    assert line == f"forbidden: {message} (context 'test', server {apiserver.url})"
    assert live(apiserver) == {}
    water("deploy", path)
    apiserver.api.inject(403, method="GET", path="cronworkflows", message="cronworkflows is forbidden")
    line = _one_line_error(runner, ["status", "babyweight"])
    assert line == f"forbidden: cronworkflows is forbidden (context 'test', server {apiserver.url})"


def test_a_param_override_that_argo_would_evaluate_is_refused_like_the_same_text_in_params(water, apiserver,
                                                                                             project):
    path = project("babyweight")
    evaluated = "limit={{=sprig.env(\"AWS_SECRET_ACCESS_KEY\")}}"
    out = water("deploy", path, "--param", evaluated, code=2)
    assert "--param limit: expressions ({{...}}) are not allowed in a parameter value" in out
    assert live(apiserver) == {}
    water("deploy", path)
    out = water("run", "babyweight", "--param", evaluated, code=2)
    assert "--param limit: expressions" in out
    assert not [k for k in live(apiserver) if k[0] == "argoproj.io/v1alpha1/workflows"]


@pytest.mark.namespaces("default", "ml", "team-a")
def test_cluster_commands_named_in_a_project_folder_use_the_specs_namespace(water, apiserver, project,
                                                                            monkeypatch):
    path = project("babyweight", lambda t: t.replace("  namespace: ml", "  namespace: team-a"))
    monkeypatch.chdir(path)
    out = water("deploy")
    assert "namespace team-a" in out
    assert water("run", "babyweight").startswith("workflow/babyweight-")
    assert [k[1] for k in live(apiserver) if k[0] == "argoproj.io/v1alpha1/workflows"] == ["team-a"]
    assert "0 3 * * *" in water("status", "babyweight") and "deploy" in water("history", "babyweight")


def test_a_server_that_answers_html_is_one_line_without_the_page(water, apiserver):
    apiserver.api.inject(502, times=-1, message="<html><body>Sign in to Corp SSO" + " x" * 500 + "</body></html>")
    out = water("status", code=1)
    assert len(out.strip().splitlines()) == 1 and "Sign in" not in out
    assert "a login proxy, or the wrong port?" in out and "context 'test'" in out


def test_insecure_skip_tls_verify_is_honoured_without_a_warning_per_request(tmp_path, water_bin):
    """A kubeconfig that says insecure-skip-tls-verify chose it: urllib3's InsecureRequestWarning on every request
    is noise on the user's terminal."""
    import ssl
    import subprocess
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days",
                    "1", "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True)

    class Api(BaseHTTPRequestHandler):
        def do_GET(self):
            body = {"resources": [{"name": "workflowtemplates"}, {"name": "cronworkflows"}]} \
                if self.path.rstrip("/").endswith("v1alpha1") else {"kind": "List", "items": []}
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (tmp_path / "kubeconfig").write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "tls",
            "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{server.server_port}",
                                                  "insecure-skip-tls-verify": True}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "tls", "context": {"cluster": "c", "user": "u", "namespace": "ml"}}]}))
        done = subprocess.run([water_bin, "status", "--kubeconfig", str(tmp_path / "kubeconfig")],
                              capture_output=True, text=True, timeout=60)
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    assert "InsecureRequestWarning" not in done.stderr and "Warning" not in done.stderr


def test_one_bad_object_breaks_neither_status_nor_history_for_the_others(water, apiserver, project):
    """A CronWorkflow whose cron never fires (deployed by hand, or by a water before the check) and a revision
    ConfigMap cut short: each shows what is wrong in its own row."""
    path = project("babyweight")
    water("deploy", path)
    other = project("demo", lambda text: text.replace("    artifacts: s3://water-demo/artifacts/", ""))  # no AWS here
    water("deploy", other)
    key = ("argoproj.io/v1alpha1/cronworkflows", "ml", "babyweight")
    apiserver.api.objects[key]["spec"]["schedules"] = ["0 3 30 2 *"]
    table = water("status")
    rows = {line.split()[0]: line for line in table.splitlines()[1:]}
    assert "never (" in rows["babyweight"] and "never" not in rows["demo"]
    revision = apiserver.api.objects[("v1/configmaps", "ml", "babyweight-water-rev-1")]
    revision["binaryData"] = {"water.yaml.gz": "bm90IGd6aXA="}  # not gzip
    spec = path / "water.yaml"
    spec.write_text(spec.read_text().replace('limit: "100000"', 'limit: "7"'))
    water("deploy", path)
    history = water("history", "babyweight")
    assert "unreadable (BadGzipFile)" in history and "deploy" in history.splitlines()[1]
    assert "cannot be read" in water("rollback", "babyweight", "--to", "1", "-y", code=1)


def test_a_run_started_by_hand_carries_the_time_it_stands_for_as_the_cron_controller_does(water, apiserver,
                                                                                       project):
    """workflows.argoproj.io/scheduled-time (argo-workflows workflow/common/common.go), RFC 3339: {{run.date}} of
    the run is its day in schedule.timezone."""
    from datetime import datetime, timezone

    water("deploy", project("babyweight"))
    water("run", "babyweight", "--date", "2026-06-01")
    water("run", "babyweight")
    runs_made = sorted((o for k, o in live(apiserver).items() if k[0] == "argoproj.io/v1alpha1/workflows"),
                       key=lambda o: int(o["metadata"]["resourceVersion"]))
    stamps = [o["metadata"]["annotations"]["workflows.argoproj.io/scheduled-time"] for o in runs_made]
    assert stamps[0] == "2026-06-01T00:00:00+09:00"  # babyweight's schedule is Asia/Tokyo
    assert abs((datetime.fromisoformat(stamps[1]) - datetime.now(timezone.utc)).total_seconds()) < 60


def test_a_pod_whose_log_cannot_be_read_does_not_hide_the_others(water, apiserver, kube, project):
    water("deploy", project("babyweight"))
    water("run", "babyweight")
    _finish(apiserver, kube, "Failed", [("extract", "rows 10\n"), ("train", "loss 0.1\n")])
    apiserver.api.inject(400, method="GET", path=r"pods/.*-extract/log", times=-1,
                         message='container "main" in pod is waiting to start: ContainerCreating')
    out = water("logs", "babyweight")
    assert "[extract] (no log: container \"main\" in pod is waiting to start: ContainerCreating)" in out
    assert "[train] loss 0.1" in out


def test_cluster_errors_are_types_carrying_the_servers_status(apiserver):
    """What water decides on is the Status's code, reason and details (apimachinery's), never its wording."""
    import dataclasses

    from water import errors
    from water.kube import RETRIES, KubeCluster, Target

    cluster = KubeCluster(Target(), retries=dataclasses.replace(RETRIES, first=0.0, cap=0.0))
    with pytest.raises(errors.NotFound) as err:
        cluster.request("GET", cluster.path("ConfigMap", "nope"))
    assert err.value.details == {"name": "nope", "group": "", "kind": "configmaps"} and err.value.status == 404
    made = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "once", "namespace": "ml"}}
    cluster.create(made)
    with pytest.raises(errors.AlreadyExists):
        cluster.create(made)
    with pytest.raises(errors.NotFound) as err:
        cluster.create({**made, "metadata": {"name": "x", "namespace": "nowhere"}})
    assert err.value.details["kind"] == "namespaces" and err.value.details["name"] == "nowhere"
    apiserver.api.inject(403, message="configmaps is forbidden")
    with pytest.raises(errors.Forbidden):
        cluster.get("ConfigMap", "once")
    apiserver.api.inject(503, times=4)
    with pytest.raises(errors.ServerError) as err:
        cluster.get("ConfigMap", "once")
    assert "tried 4 times" in str(err.value) and err.value.exit_code == 1


def test_the_readme_s_day_one_path_works_command_by_command(water, runner, apiserver, kube, aws_env, tmp_path,
                                                           monkeypatch):
    """The README's "From your laptop to a cluster" block, in order, as written (the shell's variables given
    values): the `water` commands against the test API server, the `aws iam` ones as boto3 makes the same calls
    against moto's IAM (which checks the documents' grammar); docker is not stood in for. The edit the block asks
    for between them is made as a user would."""
    import os
    import re
    import shlex

    readme = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")).read()
    block = readme.split("<!-- day-one -->", 1)[1].split("<!-- /day-one -->", 1)[0]
    values = {"$REGISTRY": "111122223333.dkr.ecr.us-east-1.amazonaws.com", "$ACCOUNT": "111122223333",
              "$CLUSTER": "ml", "$WEBHOOK_FILE": str(tmp_path / "webhook.txt")}
    issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B7"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "webhook.txt").write_text("https://hooks.slack.com/services/T000/B000/XXXX\n")
    ran = []
    for line in (line.strip() for line in block.splitlines()):
        for name, value in values.items():
            line = line.replace(name, value)
        line = re.sub(r'"\$\(aws eks describe-cluster [^)]*\)"', issuer, line)
        for command in (part.strip() for part in line.split("&&")):
            if command.startswith("cd "):
                monkeypatch.chdir(command[3:])
            elif command.startswith("aws iam "):
                _aws_iam(shlex.split(command)[2:])
                ran.append(f"aws iam {shlex.split(command)[2]}")
            elif command.startswith("water "):
                argv, _, target = shlex.split(command)[1:], None, None
                if ">" in argv:
                    argv, target = argv[:argv.index(">")], argv[argv.index(">") + 1]
                if argv[0] == "run":
                    threading.Thread(target=_finish, args=(apiserver, kube, "Succeeded",
                                                           [("extract", "rows 3\n")])).start()
                if target:  # the shell's `>`: stdout only
                    result = runner.invoke(cli, argv)
                    assert result.exit_code == 0, result.output
                    with open(target, "w") as f:
                        f.write(result.stdout)
                else:
                    water(*argv)
                ran.append(argv[0])
                if argv[0] == "new":  # the edit the block's next lines ask for
                    spec = tmp_path / "recsys" / "water.yaml"
                    spec.write_text(re.sub(r"image: \S+/recsys:0\.1\.0", f"image: {values['$REGISTRY']}/recsys:0.1.0",
                                           spec.read_text()).replace("123456789012", "111122223333"))
    assert ran == ["new", "validate", "iam", "iam", "aws iam create-role", "aws iam put-role-policy", "install",
                   "deploy", "run", "status"]
    from water.runtime import aws

    role = aws.client("iam").get_role_policy(RoleName="water-runner", PolicyName="recsys")
    assert role["PolicyDocument"] == json.loads(open(tmp_path / "recsys" / "policy.json").read())
    assert json.loads(open(tmp_path / "recsys" / "policy.json").read())["Version"] == "2012-10-17"
    assert "system:serviceaccount:ml:water-runner" in open(tmp_path / "recsys" / "trust.json").read()
    assert apiserver.api.objects[("v1/serviceaccounts", "ml", "water-runner")]["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/water-runner"}
    assert ("argoproj.io/v1alpha1/workflowtemplates", "ml", "recsys") in apiserver.api.objects


def _aws_iam(argv: list) -> None:
    """`aws iam create-role | put-role-policy --flag value ...` as boto3's same call (file:// read as the CLI does)."""
    from water.runtime import aws

    flags = {argv[i][2:]: argv[i + 1] for i in range(1, len(argv), 2)}
    read = {k: open(v[len("file://"):]).read() if v.startswith("file://") else v for k, v in flags.items()}
    iam = aws.client("iam")
    if argv[0] == "create-role":
        iam.create_role(RoleName=read["role-name"], AssumeRolePolicyDocument=read["assume-role-policy-document"])
    else:
        iam.put_role_policy(RoleName=read["role-name"], PolicyName=read["policy-name"],
                            PolicyDocument=read["policy-document"])
