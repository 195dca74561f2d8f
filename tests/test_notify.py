"""`water-job notify` against a real HTTP receiver on 127.0.0.1: the bytes Slack would get."""
from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import water_job




def argo_failures(nodes: list) -> str:
    """{{workflow.failures}} byte for byte as Argo's controller makes it (argo-workflows
    workflow/controller/operator.go): json.Marshal of []failedNodeStatus — its fields in struct order,
    `<`, `>`, `&` escaped as Go's encoder does, a zero finishedAt as null — wrapped in strconv.Quote, which
    escapes the quotes and backslashes of that JSON ("consumers must JSON-decode twice")."""
    fields = ("displayName", "message", "templateName", "phase", "podName", "finishedAt")
    marshaled = json.dumps([{k: node.get(k) for k in fields} for node in nodes], separators=(",", ":"),
                           ensure_ascii=False)
    marshaled = marshaled.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return '"' + marshaled.replace("\\", "\\\\").replace('"', '\\"') + '"'


FAILURES = argo_failures([
    {"displayName": "babyweight-29123", "message": "child 'babyweight-29123-1234' failed", "templateName": "main",
     "phase": "Failed", "podName": "babyweight-29123", "finishedAt": "2026-11-29T03:10:00Z"},
    {"displayName": "extract", "message": "Athena query q1 FAILED: TABLE_NOT_FOUND <lake.t> & `x`",
     "templateName": "athena", "phase": "Failed", "podName": "babyweight-29123-athena-1234",
     "finishedAt": "2026-11-29T03:09:59Z"}])


class Receiver:
    """A webhook endpoint: answers with the next planned status (or hangs), records every body."""

    def __init__(self, plan):
        self.plan, self.bodies = list(plan), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append(json.loads(body))
                status = receiver.plan.pop(0) if receiver.plan else 200
                if status == "hang":
                    time.sleep(30)
                    return
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/secret-token"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(*plan):
        made.append(Receiver(plan))
        return made[-1]

    yield make
    for r in made:
        r.close()


def _notify(monkeypatch, url, status="Failed", failures=FAILURES, timeout=60, on=("failure",)):
    config = {"pipeline": "babyweight", "kind": "notify", "timeout": timeout,
              "slack": {"channel": "#ml-alerts", "on": list(on)},
              "links": {"argo": "https://argo.example.com", "datadog": "https://app.datadoghq.com"}}
    monkeypatch.setenv("SLACK_WEBHOOK_URL", url)
    monkeypatch.setenv("WATER_RUN_ID", "babyweight-29123")
    monkeypatch.setenv("WATER_NAMESPACE", "ml")
    monkeypatch.delenv("DD_AGENT_HOST", raising=False)
    return water_job(["notify", "--config", base64.b64encode(json.dumps(config).encode()).decode(),
                 "--status", status, "--failures", failures, "--duration", "3725.4"])


def notified_success(monkeypatch, pod_account, run: dict) -> dict:
    """The Slack body the exit handler's pod posts for a succeeded run whose Workflow the API server has as `run`
    (read as a pod reads it: token, CA)."""
    api, pod_env = pod_account
    api.objects[("argoproj.io/v1alpha1/workflows", "ml", "babyweight-29123")] = {
        **run, "metadata": {"name": "babyweight-29123", "namespace": "ml"}}
    for name, value in pod_env.items():
        monkeypatch.setenv(name, value)
    slack = Receiver([])
    try:
        assert _notify(monkeypatch, slack.url, status="Succeeded", failures="", on=("success",)) == 0
    finally:
        slack.close()
    (body,) = slack.bodies
    return body


def test_a_failure_posts_blocks_with_the_step_the_reason_and_links(receiver, monkeypatch, capsys):
    slack = receiver()
    assert _notify(monkeypatch, slack.url) == 0
    (body,) = slack.bodies
    assert body["text"] == "❌ babyweight failed: extract"
    assert body["channel"] == "#ml-alerts"
    header, facts, failure, links = body["blocks"]
    assert header["text"]["text"] == "❌ babyweight failed"
    assert [f["text"] for f in facts["fields"]] == ["*Pipeline*\nbabyweight", "*Run*\nbabyweight-29123",
                                                    "*Status*\nFailed", "*Duration*\n1h02m"]
    assert failure["text"]["text"] == ("*extract* failed: Athena query q1 FAILED: TABLE_NOT_FOUND "
                                       "&lt;lake.t&gt; &amp; \u02cbx\u02cb")
    assert links["elements"][0]["text"] == ("<https://argo.example.com/workflows/ml/babyweight-29123|Run in Argo> · "
                                            "<https://app.datadoghq.com/logs?query=service%3Ababyweight|Logs in Datadog>")
    out = capsys.readouterr()
    assert "secret-token" not in out.out + out.err


def test_a_success_message_has_no_failures(receiver, monkeypatch):
    slack = receiver()
    assert _notify(monkeypatch, slack.url, status="Succeeded", failures="") == 0
    (body,) = slack.bodies
    assert body["text"] == "✅ babyweight succeeded"
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "context"]


def test_a_500_is_retried_until_slack_takes_the_message(receiver, monkeypatch, capsys):
    slack = receiver(500, 503)
    assert _notify(monkeypatch, slack.url) == 0
    assert len(slack.bodies) == 3 and slack.bodies[0] == slack.bodies[2]
    assert "posted to Slack: ❌ babyweight failed: extract" in capsys.readouterr().out


def test_a_refused_message_is_not_retried_and_does_not_fail_the_run(receiver, monkeypatch, capsys):
    slack = receiver(404)
    assert _notify(monkeypatch, slack.url) == 0
    assert len(slack.bodies) == 1
    out = capsys.readouterr().out
    assert "could not post to Slack: Slack answered 404 (not retried)" in out and "secret-token" not in out


def test_a_slack_that_never_answers_cannot_hang_the_workflow(receiver, monkeypatch, capsys):
    slack = receiver("hang", "hang", "hang", "hang", "hang")
    started = time.monotonic()
    assert _notify(monkeypatch, slack.url, timeout=8) == 0  # the handler's own deadline: 8 s less 5 s margin
    assert time.monotonic() - started < 6
    assert "could not post to Slack: gave up after" in capsys.readouterr().out


def test_the_failures_as_argo_quotes_them_are_decoded_twice():
    from water.alerts import failed_nodes

    # a literal of what the exit handler's --failures argument holds on a real cluster
    sent = r'"[{\"displayName\":\"extract\",\"message\":\"a \\u003cb\\u003e \\\"c\\\"\\nd\",' \
           r'\"templateName\":\"athena\",\"phase\":\"Failed\",\"podName\":\"p\",\"finishedAt\":null}]"'
    assert sent == argo_failures([{"displayName": "extract", "message": 'a <b> "c"\nd', "templateName": "athena",
                                   "phase": "Failed", "podName": "p"}])
    assert failed_nodes(sent)[0]["message"] == 'a <b> "c"\nd'
    assert failed_nodes(json.dumps([{"displayName": "x", "message": "m"}])) == [{"displayName": "x", "message": "m"}]


def test_one_entry_per_failed_step_with_its_last_attempt_in_a_stable_order(receiver, monkeypatch):
    """Argo lists the root, the retry parent and every attempt, in Go's random map order."""
    import random

    nodes = [
        {"displayName": "babyweight-29123", "message": "child failed", "templateName": "main", "phase": "Failed",
         "finishedAt": "2026-11-29T03:20:00Z"},
        {"displayName": "train", "message": "No more retries left", "templateName": "train", "phase": "Failed",
         "finishedAt": "2026-11-29T03:19:00Z"},
        *({"displayName": f"train({n})", "message": f"SageMaker training job t {n} Failed: AlgorithmError: oom {n}",
           "templateName": "train", "phase": "Failed", "finishedAt": f"2026-11-29T03:1{n}:00Z"} for n in range(3)),
        {"displayName": "features", "message": "Glue job run jr_1 FAILED: boom\n  | KeyError", "templateName": "glue",
         "phase": "Error", "finishedAt": "2026-11-29T03:05:00Z"},
        {"displayName": "publish", "message": "child 'publish(1:1)' failed", "templateName": "container",
         "phase": "Failed", "finishedAt": "2026-11-29T03:19:30Z"},
        {"displayName": "publish(1:1)", "message": "exit code 3", "templateName": "container",
         "phase": "Failed", "finishedAt": "2026-11-29T03:19:30Z"},
    ]
    texts = set()
    for seed in range(5):
        random.Random(seed).shuffle(nodes)
        slack = receiver()
        assert _notify(monkeypatch, slack.url, failures=argo_failures(nodes)) == 0
        body = slack.bodies[0]
        texts.add(json.dumps(body))
    (only,) = texts  # the same message whatever order Argo listed the nodes in
    body = json.loads(only)
    assert body["text"] == "❌ babyweight failed: features, train, publish(1:1)"
    failures = [b["text"]["text"] for b in body["blocks"][2:-1]]
    assert failures == ["*features* failed: Glue job run jr_1 FAILED: boom\n```  | KeyError```",
                        "*train* failed after 3 attempts: SageMaker training job t 2 Failed: AlgorithmError: oom 2",
                        "*publish(1:1)* failed: exit code 3"]


@pytest.mark.parametrize("url", ["htp:/hooks.slack.com/services/T0/B0/SECRETTOKEN", "http://[::1/SECRETTOKEN",
                                 "file:///etc/hostname?SECRETTOKEN", "http://exa mple.com/SECRETTOKEN\n",
                                 "SECRETTOKEN"])
def test_a_malformed_webhook_url_is_a_counted_failure_that_never_prints_the_url(url, monkeypatch, capsys):
    assert _notify(monkeypatch, url) == 0
    out = capsys.readouterr()
    assert "SECRETTOKEN" not in out.out + out.err and "Traceback" not in out.err
    assert "could not post to Slack: the webhook URL in the Secret is not a valid http(s) URL" in out.out


def test_failures_that_are_not_json_still_name_the_reason(receiver, monkeypatch):
    slack = receiver()
    assert _notify(monkeypatch, slack.url, failures="child 'x' failed") == 0
    assert slack.bodies[0]["blocks"][2]["text"]["text"] == "*run* failed: child 'x' failed"


def test_the_failed_steps_log_end_reaches_slack_as_a_code_block(receiver, monkeypatch):
    from water.runtime.main import termination_message

    # what Argo puts in {{workflow.failures}}: the node's message is the step's termination message
    message = termination_message("Glue job run jr_1 FAILED: boom",
                                  ["  | reading <input>", "  | Traceback: KeyError: 'label' & more"])
    failures = argo_failures([{"displayName": "features", "message": message, "templateName": "glue",
                               "phase": "Failed", "podName": "babyweight-29123-glue-1"}])
    slack = receiver()
    assert _notify(monkeypatch, slack.url, failures=failures) == 0
    failure = slack.bodies[0]["blocks"][2]["text"]["text"]
    assert failure == ("*features* failed: Glue job run jr_1 FAILED: boom\n```"
                       "  | reading &lt;input&gt;\n  | Traceback: KeyError: 'label' &amp; more```")


def test_install_time_links_are_used_when_the_spec_has_none(receiver, monkeypatch):
    config = {"pipeline": "babyweight", "kind": "notify", "timeout": 60, "slack": {"on": ["failure"]}}
    slack = receiver()
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
    monkeypatch.setenv("WATER_RUN_ID", "babyweight-29123")
    monkeypatch.setenv("WATER_NAMESPACE", "ml")
    monkeypatch.setenv("WATER_ARGO_URL", "https://argo.internal/")  # from the water-settings ConfigMap
    assert water_job(["notify", "--config", base64.b64encode(json.dumps(config).encode()).decode(),
                 "--status", "Failed", "--failures", FAILURES, "--duration", "60"]) == 0
    links = slack.bodies[0]["blocks"][-1]
    assert links["elements"][0]["text"] == "<https://argo.internal/workflows/ml/babyweight-29123|Run in Argo>"


def test_a_run_s_start_posts_through_argo_s_running_hook(receiver, monkeypatch, project, argo_errors):
    """`on: [start]`: a workflow-level `running` hook, which Argo runs once when `workflow.status == "Running"`
    first holds (workflow/controller/hooks.go); its pod posts the start."""
    from conftest import render_objects, task_argv

    path = project("babyweight", edit=lambda text: text.replace("on: [failure]", "on: [start, failure]"))
    objects = render_objects(path)
    (template,) = [o for o in objects if o["kind"] == "WorkflowTemplate"]
    assert argo_errors(template) == []
    hook = template["spec"]["hooks"]["running"]
    assert hook["expression"] == 'workflow.status == "Running"' and hook["template"] == "notify"
    assert {p["name"] for p in hook["arguments"]["parameters"]} == {"status", "duration"}  # no {{workflow.failures}}:
    # nothing has failed yet
    argv = [a.replace("{{workflow.status}}", "Running").replace("{{workflow.duration}}", "1.2")
            for a in task_argv(objects, "running")]
    slack = receiver()
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
    monkeypatch.setenv("WATER_RUN_ID", "babyweight-29123")
    monkeypatch.delenv("DD_AGENT_HOST", raising=False)
    assert water_job(argv) == 0
    (body,) = slack.bodies
    assert body["text"] == "▶️ babyweight started"
    assert [f["text"] for f in body["blocks"][1]["fields"]] == ["*Pipeline*\nbabyweight", "*Run*\nbabyweight-29123",
                                                               "*Status*\nRunning"]
