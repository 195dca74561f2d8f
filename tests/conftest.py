"""Shared fixtures: example pipelines, the strict Argo schema, Kubernetes' schemas, a CLI runner."""
from __future__ import annotations

import copy
import json
import os
import re
import shutil
import socket
import sys
import time

import pytest
from click.testing import CliRunner

from water import pipeline as pipeline_mod
from water import render as render_mod

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
EXAMPLES = sorted(d for d in os.listdir(os.path.join(ROOT, "pipelines"))
                  if os.path.isfile(os.path.join(ROOT, "pipelines", d, "water.yaml")))
ARGO_PREFIX = "io.argoproj.workflow.v1alpha1."
EVENTS_PREFIX = "io.argoproj.events.v1alpha1."
K8S_VERSION = "1.33"


def example_path(name: str) -> str:
    return os.path.join(ROOT, "pipelines", name)


def render_objects(path: str) -> list:
    return render_mod.render(pipeline_mod.load(path)).objects


def step_configs(objects: list) -> dict:
    """Each task's own config as its pod reads it (the steps' ConfigMaps' data, decoded), by task."""
    return {key: json.loads(text) for obj in objects if obj["kind"] == "ConfigMap"
            for key, text in obj.get("data", {}).items()}


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def project(tmp_path):
    """A copy of an example pipeline in a temp folder, to edit freely."""

    def make(name: str = "babyweight", edit=None):
        target = tmp_path / name
        shutil.copytree(example_path(name), target)
        if edit:
            spec = target / "water.yaml"
            spec.write_text(edit(spec.read_text()))
        return target

    return make


def _strict_argo_schema(file: str = "argo-workflows-schema.json") -> dict:
    with open(os.path.join(TESTS, "schemas", file)) as f:
        schema = json.load(f)
    defs = schema["definitions"]
    defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {"type": ["string", "integer"]}
    defs["io.k8s.apimachinery.pkg.api.resource.Quantity"] = {"type": ["string", "number"]}
    for d in defs.values():
        if d.get("type") == "object" and "properties" in d and "additionalProperties" not in d:
            d["additionalProperties"] = False
    return schema


@pytest.fixture(scope="session")
def argo_errors():
    """errors(doc) -> list of messages from Argo's official schema, strict: Argo Workflows' kinds, and Argo
    Events' (EventSource, Sensor)."""
    from jsonschema import Draft202012Validator

    schemas = {ARGO_PREFIX: _strict_argo_schema(), EVENTS_PREFIX: _strict_argo_schema("argo-events-schema.json")}
    validators: dict = {}

    def errors(doc: dict) -> list:
        kind = doc["kind"]
        if kind not in validators:
            prefix = EVENTS_PREFIX if kind in ("EventSource", "Sensor", "EventBus") else ARGO_PREFIX
            sub = {"$ref": f"#/definitions/{prefix}{kind}", "definitions": schemas[prefix]["definitions"]}
            validators[kind] = Draft202012Validator(sub)
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validators[kind].iter_errors(doc)]

    return errors


@pytest.fixture(scope="session")
def k8s_errors():
    """errors(doc) -> [] or the message of Kubernetes' own schema (strict: unknown fields fail)."""
    import kubernetes_validate

    def errors(doc: dict) -> list:
        try:
            kubernetes_validate.validate(copy.deepcopy(doc), K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            return [str(exc).splitlines()[0]]
        return []

    return errors


@pytest.fixture(scope="session")
def water_bin():
    """The installed `water` console script (tests of the real process)."""
    found = shutil.which("water", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    assert found, "water is not installed: run installer/install.sh --test"
    return found


@pytest.fixture
def apiserver(request, tmp_path, monkeypatch):
    """A Kubernetes API server emulator on 127.0.0.1 (core kinds + Argo Workflows' and Argo Events' CRDs), KUBECONFIG pointing at it
    with context 'test' and namespace 'ml'. `.api` is the server (state, fault injection). Namespaces 'default'
    and 'ml' exist, or those of a `namespaces(...)` mark (`water install` tests start without 'ml')."""
    from kubeapi import ARGO, CORE, EVENTS, RunningApiServer

    mark = request.node.get_closest_marker("namespaces")
    with RunningApiServer({**CORE, **ARGO, **EVENTS}, namespaces=mark.args if mark else ("default", "ml")) as server:
        monkeypatch.setenv("KUBECONFIG", server.kubeconfig(tmp_path / "kubeconfig"))
        yield server


def no_pauses() -> dict:
    """What the CLI takes in through click's `obj`: its retry policies, with every pause zero (the tries as many)."""
    import dataclasses

    from water import backoff, kube, monitors

    return {"kube_retries": dataclasses.replace(kube.RETRIES, first=0.0, cap=0.0),
            "datadog_retries": dataclasses.replace(monitors.RETRIES, first=0.0, cap=0.0),
            "run_poll": backoff.Policy(first=0.05, cap=0.05, jitter=False)}


@pytest.fixture
def water(runner, apiserver):
    """The CLI in-process against the emulator, its retries without pauses: water(*args, code=0, input=None) → its
    output."""
    from water.cli import cli

    def invoke(*args, code=0, input=None):
        result = runner.invoke(cli, [str(a) for a in args], input=input, obj=no_pauses())
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == code, result.output
        return result.output

    return invoke


@pytest.fixture
def datadog(monkeypatch):
    """A local Datadog monitor API (tests/datadogapi.py) with the keys and host in the environment."""
    from datadog.api.api_client import APIClient
    from datadogapi import API_KEY, APP_KEY, DatadogApi

    api = DatadogApi()
    for name, value in (("DD_API_KEY", API_KEY), ("DD_APP_KEY", APP_KEY), ("DATADOG_HOST", api.url)):
        monkeypatch.setenv(name, value)
    yield api
    api.close()
    # the package backs off for minutes after three timeouts, process-wide: a CLI run is one process, tests are not
    APIClient._timeout_counter, APIClient._backoff_timestamp = 0, None


@pytest.fixture
def kube(apiserver):
    """The official client's ApiClient configured from the emulator's kubeconfig."""
    from kubernetes import config

    client = config.new_client_from_config(config_file=os.environ["KUBECONFIG"])
    yield client
    client.close()


RUN_ID = "demo-abc12"


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto's server on 127.0.0.1, for AWS code spoken to over HTTP with plain boto3."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(moto_endpoint, monkeypatch, tmp_path):
    """A reset moto with a bucket `lake-results`, and a step pod's environment pointing at it."""
    import urllib.request

    from water.runtime import aws

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    env = {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "WATER_RUN_ID": RUN_ID, "WATER_PARAM_limit": "10",
           "WATER_PARAM_who": "O'Brien", "WATER_OUTPUTS_DIR": str(tmp_path / "outputs")}
    for name in ("DD_AGENT_HOST", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    aws.client("s3").create_bucket(Bucket="lake-results")
    JOB_HOOKS.clear()
    yield env
    JOB_HOOKS.clear()


JOB_HOOKS: list = []  # (botocore event, handler) pairs water_job's clients get; emptied around each aws_env test


def water_job(argv: list, **options) -> int:
    """`water-job` in-process, its AWS clients made with the hooks in JOB_HOOKS (how the tests bridge moto's gaps:
    a job that keeps running, a lost answer)."""
    from water.runtime import aws
    from water.runtime.main import main

    return main(argv, clients=aws.Clients(JOB_HOOKS), **options)


HOOKED_JOB = """
import sys
from water.runtime import aws
from water.runtime.main import main
HOOKS = []
exec(compile(open(sys.argv[1]).read(), sys.argv[1], "exec"))
sys.exit(main(sys.argv[2:], clients=aws.Clients(HOOKS)))
"""


def hooked_job_argv(hooks_script, *argv: str) -> list:
    """The command of a `water-job` process whose AWS clients get the hooks the Python file `hooks_script` appends
    to HOOKS: for what only a real process shows (signals, being killed)."""
    return [sys.executable, "-c", HOOKED_JOB, str(hooks_script), *argv]


@pytest.fixture
def memory_cluster():
    """An in-memory cluster (water.cluster.MemoryCluster) with namespaces 'default' and 'ml', 'ml' the context's."""
    from water.cluster import MemoryCluster

    return MemoryCluster(namespaces=("default", "ml"), namespace="ml")


@pytest.fixture
def water_memory(runner, memory_cluster):
    """The CLI in-process on the in-memory cluster (passed in as `obj["cluster"]`): water_memory(*args, code=0,
    input=None) → its output."""
    from water.cli import cli

    obj = {**no_pauses(), "cluster": lambda target: memory_cluster.at(target.namespace)}

    def invoke(*args, code=0, input=None):
        result = runner.invoke(cli, [str(a) for a in args], input=input, obj=obj)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == code, result.output
        return result.output

    return invoke


POD_PIPELINE = os.path.join(TESTS, "pod-pipeline", "water.yaml")
ARGO_OUTPUT = re.compile(r"\{\{tasks\.([a-z0-9-]+)\.outputs\.parameters\.([A-Za-z0-9_-]+)\}\}")


def task_argv(objects: list, task_name: str, upstream: dict | None = None, item: str | None = None) -> list:
    """The argv `water-job` gets in the pod of a DAG task, an exit handler's step or a workflow hook (by its event) of
    the rendered `objects`,
    substituted as Argo does it: the task's arguments into its template's `{{inputs.parameters.NAME}}` (else their
    defaults), `{{tasks.name}}` by the task's name (a fanned-out pod's `TASK(INDEX:ITEM)`, as Argo names it:
    workflow/controller/operator.go generateNodeName), then `{{tasks.T.outputs.parameters.P}}` by upstream[T][P],
    the output task T wrote (a KeyError names one the test did not give), and `{{item}}` by the `withParam` item
    this pod fans out over (a shard). The steps' ConfigMaps are written out as the kubelet mounts them (a file per
    key) and the pod's argv points there."""
    (template,) = [o for o in objects if o["kind"] == "WorkflowTemplate"]
    calls = [t for body in template["spec"]["templates"] for t in body.get("dag", {}).get("tasks", [])] + [
        s for body in template["spec"]["templates"] for group in body.get("steps", []) for s in group] + [
        {"name": event, **hook} for event, hook in template["spec"].get("hooks", {}).items()]
    task = next(t for t in calls if t["name"] == task_name)
    body = next(t for t in template["spec"]["templates"] if t["name"] == task["template"])
    given = {p["name"]: p["value"] for p in task.get("arguments", {}).get("parameters", [])}
    defaults = {p["name"]: p.get("value") for p in body.get("inputs", {}).get("parameters", [])}
    inputs = re.compile(r"^\{\{inputs\.parameters\.([A-Za-z0-9_-]+)\}\}$")
    pod_task = task_name if item is None else _expanded(task, item, upstream or {})

    def substituted(arg: str) -> str:
        found = inputs.match(arg)
        value = (given[found[1]] if found[1] in given else defaults[found[1]]) if found else arg
        value = value.replace("{{tasks.name}}", pod_task)
        value = value.replace("{{item}}", item) if item is not None else value
        return ARGO_OUTPUT.sub(lambda m: (upstream or {})[m[1]][m[2]], value)

    return [substituted(a) for a in body["container"]["args"]] + ["--steps-dir", mounted_steps(objects)]


def _expanded(task: dict, item: str, upstream: dict) -> str:
    """The name Argo gives the task's pod for `item` of its withParam list: TASK(INDEX:ITEM), parentheses taken out
    of the item (workflow/controller/operator.go generateNodeName)."""
    items = json.loads(ARGO_OUTPUT.sub(lambda m: upstream[m[1]][m[2]], task["withParam"]))
    return f"{task['name']}({items.index(item)}:{item.replace('(', '').replace(')', '')})"


def mounted_steps(objects: list) -> str:
    """A folder holding the steps' ConfigMaps as a pod's projected volume does: a file per key (removed when the
    test run ends)."""
    import atexit
    import tempfile

    folder = tempfile.mkdtemp(prefix="water-steps-")
    atexit.register(shutil.rmtree, folder, True)
    for obj in objects:
        if obj["kind"] == "ConfigMap":
            for key, text in obj.get("data", {}).items():
                with open(os.path.join(folder, key), "w", encoding="utf-8") as f:
                    f.write(text)
    return folder


def pod_argv(step: str, *, spec: dict | None = None, step_fields: dict | None = None, upstream: dict | None = None,
             project=None, task: str | None = None, item: str | None = None,
             pipeline_file: str = POD_PIPELINE) -> list:
    """`water-job`'s argv in the pod of `step` (or of the `task` water adds for it, as its size task) of
    tests/pod-pipeline (or `pipeline_file`), from `water render`: `spec` is merged into the step's kind fields first
    (None removes a field), `step_fields` into the step (likewise); the pipeline renders from `project` (a folder the spec
    is copied into) when the step names project files."""
    import yaml

    with open(pipeline_file, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    entry = next(s for s in doc["spec"]["steps"] if s["name"] == step)
    kind = next(k for k in entry if k not in ("name", "after", "retries", "timeout", "resources", "env", "sizing"))
    for key, value in (spec or {}).items():
        if value is None:
            entry[kind].pop(key, None)
        else:
            entry[kind][key] = value
    for key, value in (step_fields or {}).items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    folder = str(project) if project else os.path.dirname(pipeline_file)
    p = pipeline_mod.load_text(yaml.safe_dump(doc, sort_keys=False), os.path.join(folder, "water.yaml"), folder)
    return task_argv(render_mod.render(p).objects, task or step, upstream, item)


def pod_config(argv: list) -> dict:
    """The own config the pod of `argv` (task_argv's) reads."""
    with open(_config_path(argv), encoding="utf-8") as f:
        return json.load(f)


def _config_path(argv: list) -> str:
    key = argv[argv.index("--config-key") + 1].partition("(")[0]
    return os.path.join(argv[argv.index("--steps-dir") + 1], key)


def edited_config(argv: list, change) -> list:
    """`argv` with the own config its pod reads changed by change(config): for configs render would never write (a
    version skew, a hand-made config)."""
    config = pod_config(argv)
    change(config)
    with open(_config_path(argv), "w", encoding="utf-8") as f:
        json.dump(config, f)
    return argv


@pytest.fixture
def statsd():
    """A UDP socket in the place of the Datadog agent's DogStatsD port."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    yield receiver
    receiver.close()


@pytest.fixture
def agent(statsd, monkeypatch):
    """`statsd`, named by the env a step reads the agent's address from."""
    monkeypatch.setenv("DD_AGENT_HOST", "127.0.0.1")
    monkeypatch.setenv("DD_DOGSTATSD_PORT", str(statsd.getsockname()[1]))
    return statsd


def received(receiver, count: int) -> dict:
    packets, deadline = [], time.monotonic() + 5
    while len(packets) < count and time.monotonic() < deadline:
        packets += receiver.recv(65535).decode().splitlines()
    return {p.split(":")[0]: p for p in packets}


POD_TOKEN = "pod-token"


@pytest.fixture
def pod_account(tmp_path):
    """The API server as a step's pod sees it: HTTPS at KUBERNETES_SERVICE_HOST:PORT, verified with the
    service account's ca.crt, answering 401 to any other token than the account's. Yields (api, pod env)."""
    from kubeapi import ARGO, RunningApiServer, self_signed_certificate

    account, tls = tmp_path / "serviceaccount", tmp_path / "tls"
    account.mkdir()
    tls.mkdir()
    certificate, key = self_signed_certificate(tls)
    (account / "ca.crt").write_bytes(open(certificate, "rb").read())
    (account / "token").write_text(POD_TOKEN + "\n")
    (account / "namespace").write_text("ml")
    with RunningApiServer(ARGO, tls=(certificate, key)) as server:
        server.api.inject(401, when=lambda request: request.headers.get("Authorization") != f"Bearer {POD_TOKEN}",
                          times=-1, message="Unauthorized")
        yield server.api, {"WATER_SERVICE_ACCOUNT_DIR": str(account), "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                           "KUBERNETES_SERVICE_PORT": server.url.rsplit(":", 1)[1]}
