"""The cluster, through the official kubernetes client: kubectl's flags and kubeconfig rules, one-line errors
naming the context and server, bounded retries of what is safe to retry, and the few verbs water needs on any
kind. Paths come from a fixed table of the kinds water writes, so no discovery round trips and no discovery
cache: the same requests against any conformant API server."""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from water import __version__, backoff
from water.cluster import CLUSTER_SCOPED, FIELD_MANAGER, KINDS, Cluster
from water.errors import ApiError, ClusterError, Unreachable, api_error_type

RETRIABLE = {429, 500, 502, 503, 504}
# idempotent calls: 4 tries, 0.25 s doubling with full jitter; a server's Retry-After is taken up to 5 s
RETRIES = backoff.Policy(first=0.25, cap=5.0, attempts=4)
ONCE = backoff.Policy(attempts=1)  # a POST whose answer was lost may have created what it asked for
PAGE = 500  # items per list request: what kubectl asks for (its --chunk-size default)
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
TIMEOUT = (5, 30)  # connect, read seconds per request


@dataclass(frozen=True)
class Target:
    """Where to talk to, as kubectl's flags say (None: the kubeconfig's choice)."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None


class KubeCluster(Cluster):
    """The cluster through the official client (water.cluster.Cluster's verbs over HTTP)."""

    def __init__(self, target: Target, retries: backoff.Policy = RETRIES) -> None:
        import yaml
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        cfg = client.Configuration()
        # the client reads KUBECONFIG once, at import; read it now, as kubectl does on every call
        kubeconfig = target.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        try:
            contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)
            chosen = next((c for c in contexts if c["name"] == (target.context or current["name"])), None)
            if chosen is None:
                raise ClusterError(f"context '{target.context}' is not in the kubeconfig (have: "
                                   f"{', '.join(c['name'] for c in contexts)})")
            config.load_kube_config(config_file=kubeconfig, context=chosen["name"], client_configuration=cfg)
            self.context = chosen["name"]
            default_namespace = chosen["context"].get("namespace") or "default"
        except (ConfigException, OSError, yaml.YAMLError, TypeError, AttributeError, KeyError) as exc:
            # the client reads any YAML and fails on a shape it did not expect with Python's own errors
            if not os.environ.get("KUBERNETES_SERVICE_HOST") or target.kubeconfig or target.context:
                why = _first_line(exc) if isinstance(exc, (ConfigException, OSError)) else "not a kubeconfig"
                raise ClusterError(f"no usable kubeconfig at {kubeconfig}: {why} (set KUBECONFIG or "
                                   "--kubeconfig)") from None
            config.load_incluster_config(client_configuration=cfg)
            self.context = "in-cluster"
            default_namespace = _incluster_namespace()
        cfg.retries = 0  # water retries itself, knowing which calls are safe to repeat
        self.retries = retries
        if not cfg.verify_ssl:  # the kubeconfig's insecure-skip-tls-verify: chosen, so not warned about per request
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self.server = cfg.host
        self.namespace = target.namespace or default_namespace
        self._api = client.ApiClient(cfg)
        self._api.user_agent = f"water/{__version__}"  # as kubectl names itself: the server's audit log says who
        self._served: dict = {}  # group/version → plural names the cluster serves

    @property
    def where(self) -> str:
        return f"context '{self.context}', server {self.server}"

    # --- requests ----------------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, query: Sequence[tuple[str, Any]] = (), body: Any | None = None,
                content_type: str = "application/json", retry: bool = True, answer: str = "json",
                accept: str = "application/json") -> Any:
        """One API call; the answer as JSON, text, or a stream. Retries 429/5xx and lost connections when
        `retry` (the call is idempotent); raises ApiError with the server's message, ClusterError when
        unreachable."""
        stream = answer == "stream"
        headers = {"Accept": accept if answer == "json" else "*/*"}
        if body is not None:
            headers["Content-Type"] = content_type

        def once():
            _, url, sent_headers, sent_body, _ = self._api.param_serialize(
                method, path, query_params=[(k, v) for k, v in query if v is not None], header_params=headers,
                body=body, auth_settings=["BearerToken"])
            try:
                response = self._api.rest_client.request(method, url, headers=sent_headers, body=sent_body,
                                                         _request_timeout=None if stream else TIMEOUT)
            except Exception as exc:  # urllib3's connection errors have no common base worth naming
                raise Unreachable(f"cannot reach the cluster at {self.server} (context '{self.context}'): "
                                  f"{_connection_reason(exc)}", _is_connection_error(exc)) from None
            if 200 <= response.status < 300:
                if stream:
                    return response.response
                data = response.read()
                if answer == "text":
                    return data.decode("utf-8", "replace")
                return json.loads(data) if data else {}
            raise self._error(method, path, response)

        return backoff.retry(once, self.retries if retry else ONCE, retryable=_retryable,
                             retry_after=lambda exc: getattr(exc, "retry_after", None))

    def _error(self, method, path: str, response) -> ApiError:
        """The server's refusal as the ApiError of its Status (its code, reason and details), on one line."""
        data = response.read()
        status, where = response.status, self.where
        try:
            answer = json.loads(data)
            message, reason, details = answer.get("message") or "", answer.get("reason") or "", answer.get("details")
        except (ValueError, AttributeError):
            if data.lstrip()[:1] == b"<" or "html" in (response.getheader("Content-Type") or ""):
                return ApiError(status, "NotKubernetes", f"{self.server} answered {method} {path} with a web page "
                                f"(HTTP {status}), not the Kubernetes API: a login proxy, or the wrong port? ({where})")
            message, reason, details = " ".join(data.decode("utf-8", "replace").split())[:300], "", None
        kind = api_error_type(status, reason)
        reason = reason or response.reason or ""
        if status == 401:
            return kind(401, reason, f"the cluster refused the credentials of {where}: Unauthorized", message)
        if status == 403:
            return kind(403, reason, f"forbidden: {message} ({where})", message, details)
        if status in RETRIABLE:
            hint = response.getheader("Retry-After") or ""
            return kind(status, reason, f"the API server failed {method} {path} with {status}"
                        f"{': ' + message if message else ''} ({where}; tried {self.retries.attempts} times)", message,
                        details, int(hint) if hint.isdigit() else None)
        if status == 404:
            detail = message or f"{method} {path}: not found"
            return kind(404, reason, f"{detail} ({where})", detail, details)
        return kind(status, reason, message or f"{method} {path}: HTTP {status}", None, details)

    # --- verbs on objects --------------------------------------------------------------------------------

    def path(self, kind: str, name: str | None = None, namespace: str | None = None) -> str:
        group_version, plural = KINDS[kind]
        base = _api_path(group_version)
        if kind not in CLUSTER_SCOPED:
            base += f"/namespaces/{namespace or self.namespace}"
        return f"{base}/{plural}" + (f"/{name}" if name else "")

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        try:
            return self.request("GET", self.path(kind, name, namespace))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def list_metadata(self, kind: str, selector: str, namespace: str | None = None) -> list:
        # kubectl's Accept for `get -o name` and its kin: the server answers a PartialObjectMetadataList (and a
        # server that cannot, full objects, of which only the metadata is read)
        return self._pages(kind, selector, namespace, METADATA_ONLY)

    def _pages(self, kind: str, selector: str, namespace: str | None, accept: str) -> list:
        """Every page of a list: `limit` items each, the next asked for with the server's `continue` token."""
        items: list = []
        token = None
        while True:
            page = self.request("GET", self.path(kind, namespace=namespace), accept=accept, query=[
                ("labelSelector", selector), ("limit", PAGE), ("continue", token)])
            items += page["items"]
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items

    def list(self, kind: str, selector: str, namespace: str | None = None) -> list:
        return self._pages(kind, selector, namespace, "application/json")

    def apply(self, obj: dict, *, dry_run: bool = False, force: bool = False) -> dict:
        meta = obj["metadata"]
        return self.request("PATCH", self.path(obj["kind"], meta["name"], meta.get("namespace")), body=obj,
                            content_type="application/apply-patch+yaml",
                            query=[("fieldManager", FIELD_MANAGER), ("force", "true" if force else None),
                                   ("dryRun", "All" if dry_run else None)])

    def create(self, obj: dict) -> dict:
        """Not retried: a POST that reached the server and lost its answer would create twice."""
        return self.request("POST", self.path(obj["kind"], namespace=obj["metadata"].get("namespace")), body=obj,
                            query=[("fieldManager", FIELD_MANAGER)], retry=False)

    def merge_patch(self, kind: str, name: str, patch: dict) -> dict:
        return self.request("PATCH", self.path(kind, name), body=patch, content_type="application/merge-patch+json",
                            query=[("fieldManager", FIELD_MANAGER)])

    def delete(self, kind: str, name: str, *, namespace: str | None = None, dry_run: bool = False) -> bool:
        """False when it was already gone."""
        try:
            self.request("DELETE", self.path(kind, name, namespace), query=[
                ("propagationPolicy", "Background"), ("dryRun", "All" if dry_run else None)])
            return True
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise

    def serves(self, kind: str) -> bool:
        """Whether the cluster has `kind`'s API (asked once per API group and version)."""
        group_version, plural = KINDS[kind]
        if group_version not in self._served:
            try:
                found = self.request("GET", _api_path(group_version))
            except ApiError as exc:
                if exc.status != 404:
                    raise
                found = {}
            self._served[group_version] = {r.get("name") for r in found.get("resources", [])}
        return plural in self._served[group_version]

    def pod_log(self, name: str, *, follow: bool = False) -> Any:
        return self.request("GET", self.path("Pod", name) + "/log", answer="stream" if follow else "text",
                            query=[("container", "main"), ("follow", "true" if follow else None)])

    def close(self) -> None:
        self._api.close()


def _api_path(group_version: str) -> str:
    return f"/apis/{group_version}" if "/" in group_version else f"/api/{group_version}"


def _retryable(exc: Exception) -> bool:
    """A lost connection, 429 or a 5xx: a later try of an idempotent call may get past it."""
    return (isinstance(exc, Unreachable) and exc.connection) or (
        isinstance(exc, ApiError) and exc.status in RETRIABLE)


def _is_connection_error(exc: Exception) -> bool:
    import urllib3

    return isinstance(exc, (urllib3.exceptions.HTTPError, OSError))


def _connection_reason(exc: Exception) -> str:
    text = str(getattr(exc, "reason", None) or exc)
    for needle, reason in (("refused", "connection refused"), ("timed out", "timed out"),
                           ("Name or service not known", "unknown host"), ("CERTIFICATE", "TLS certificate "
                                                                           "not trusted")):
        if needle in text:
            return reason
    return _first_line(exc)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _incluster_namespace() -> str:
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace", encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return "default"
