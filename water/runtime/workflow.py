"""The run's Workflow, asked of the API server from inside a step's pod: whether the run was ended on purpose,
and (for the exit handler) what became of its steps. Argo's controller sends SIGTERM alike for `argo stop`, `argo terminate`, a deleted run and an evicted pod; only
the Workflow itself says which (`spec.shutdown`, or its absence), and only an eviction has a retry coming that
re-attaches to the step's AWS job. Plain HTTPS with the pod's service-account token and CA, as any in-cluster
client: the runtime does not load the Kubernetes client for one GET."""
from __future__ import annotations

import json
import os

from water import contract

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
TIMEOUT = 5.0  # seconds; the pod has its termination grace period (30 s by default) for all of this
WORKFLOWS = "/apis/argoproj.io/v1alpha1/namespaces/{namespace}/workflows/{name}"


class Unknown(Exception):
    """The run's state could not be read (not in a pod, no API access); the message says why."""


def ended_on_purpose(run_id: str, env: dict) -> str:
    """'stopped', 'terminated' or 'deleted' when the run was ended by someone, '' when it goes on."""
    workflow = read(run_id, env)
    if workflow is None or workflow["metadata"].get("deletionTimestamp"):
        return "deleted"
    return {"Stop": "stopped", "Terminate": "terminated"}.get(workflow.get("spec", {}).get("shutdown", ""), "")


def read(run_id: str, env: dict) -> dict | None:
    """The run's Workflow as the API server has it, None if it is gone."""
    account = env.get(contract.SERVICE_ACCOUNT_DIR_ENV, SERVICE_ACCOUNT_DIR)
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT", "443")
    if not host or not os.path.exists(os.path.join(account, "token")):
        raise Unknown("no in-cluster API access (service-account token or KUBERNETES_SERVICE_HOST missing)")
    path = WORKFLOWS.format(namespace=_read(account, "namespace"), name=run_id)
    return _get(f"https://{_host(host)}:{port}{path}", account)


def _get(url: str, account: str) -> dict | None:
    """The object at url, or None if it does not exist."""
    import ssl
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {_read(account, 'token')}",
                                                   "Accept": "application/json"})
    context = ssl.create_default_context(cafile=os.path.join(account, "ca.crt"))
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT, context=context) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise Unknown(f"the API server answered {exc.code} {exc.reason} for the run's Workflow") from None
    except (OSError, ValueError) as exc:  # refused, timed out, TLS, not JSON
        raise Unknown(f"could not read the run's Workflow: {exc}") from None


def _read(account: str, name: str) -> str:
    with open(os.path.join(account, name), encoding="utf-8") as f:
        return f.read().strip()


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host  # IPv6 clusters give a bare address
