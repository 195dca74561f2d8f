"""A Kubernetes API server for tests: kmock 0.8's scaffold (discovery, Status errors, real HTTP) with the
API-server semantics water's cluster commands rely on and kmock lacks: label selectors on list and watch,
`dryRun=All` that persists nothing, server-side apply (creates a missing object, requires `fieldManager`,
409 naming the other manager on a conflicting field unless `force`), PUT replace with resourceVersion
preconditions, uid/resourceVersion/creationTimestamp/generation, 201 on create, typed List responses,
watch `timeoutSeconds`, pod logs, cluster-scoped Namespaces by name (kmock cannot parse the collection path
/api/v1/namespaces), no object in a namespace that does not exist, and injected faults. It runs on its own
event loop in a thread, so the official (synchronous) client and the CLI talk to it over HTTP exactly as to a
cluster.

Not emulated (said in the README): admission and schema validation, server defaults, RBAC, garbage
collection, granular list merging in apply (lists are atomic here), the Argo controller itself."""
from __future__ import annotations

import asyncio
import base64
import bisect
import copy
import datetime
import functools
import ipaddress
import json
import random
import re
import ssl
import string
import threading
import uuid

import aiohttp.test_utils
import aiohttp.web
import attrs
import kmock
import yaml

CORE = {
    "v1/configmaps": ("ConfigMap", True), "v1/pods": ("Pod", True), "v1/secrets": ("Secret", True),
    "v1/serviceaccounts": ("ServiceAccount", True), "v1/namespaces": ("Namespace", False),
    "batch/v1/cronjobs": ("CronJob", True), "batch/v1/jobs": ("Job", True),
    "apps/v1/deployments": ("Deployment", True),
    "rbac.authorization.k8s.io/v1/roles": ("Role", True),
    "rbac.authorization.k8s.io/v1/rolebindings": ("RoleBinding", True),
}
ARGO = {
    "argoproj.io/v1alpha1/workflowtemplates": ("WorkflowTemplate", True),
    "argoproj.io/v1alpha1/cronworkflows": ("CronWorkflow", True),
    "argoproj.io/v1alpha1/workflows": ("Workflow", True),
}
EVENTS = {  # Argo Events' CRDs, in the same API group
    "argoproj.io/v1alpha1/eventsources": ("EventSource", True),
    "argoproj.io/v1alpha1/sensors": ("Sensor", True),
}
APPLY = "application/apply-patch+yaml"
# The real server's limits: a request body of at most 3 MiB (apiserver's MaxRequestBodyBytes, answered 413), and
# an object etcd stores of at most 1.5 MiB (etcd's --max-request-bytes default; the API server answers 500
# "etcdserver: request is too large"). A dry run stops before etcd: it never meets the second.
BODY_LIMIT = 3 * 1024 * 1024
ETCD_LIMIT = 1536 * 1024
NAMESPACE_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)$")
SERVER_SET = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields")


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details


def _details(key: str, name: str) -> dict:
    """A Status's details as apimachinery's errors.NewNotFound / NewAlreadyExists / NewConflict fill them: the
    resource's group, its plural as `kind`, and the name (k8s.io/apimachinery/pkg/api/errors/errors.go)."""
    group = key.rsplit("/", 2)[0] if key.count("/") == 2 else ""
    return {"name": name, "group": group, "kind": key.rsplit("/", 1)[1]}


def status(code: int, reason: str, message: str, details: dict | None = None) -> aiohttp.web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}
    if details:
        body["details"] = details
    return aiohttp.web.json_response(body, status=code)


@attrs.define
class Fault:
    code: int
    method: str | None
    path: str | None  # a regex searched in the request path
    when: object  # predicate on the kmock Request, or None
    times: int
    message: object  # the text, or a function of the kmock Request making it


@attrs.define(kw_only=True)
class ApiServer(kmock.KubernetesScaffold):
    kinds: dict = attrs.field(factory=dict)  # "group/version/plural" → (Kind, namespaced)
    namespaces: tuple = ("default",)  # what exists at start; objects in any other are refused until it is created
    objects: dict = attrs.field(factory=dict)  # (resource key, namespace, name) → object
    owners: dict = attrs.field(factory=dict)  # object key → {manager: (operation, set of field paths)}
    logs: dict = attrs.field(factory=dict)  # (namespace, pod) → text
    faults: list = attrs.field(factory=list)
    events: list = attrs.field(factory=list)  # (resourceVersion, type, object key, object)
    requests: list = attrs.field(factory=list)  # (method, path with query, Accept, User-Agent) of each, in order
    answered_bytes: int = 0  # of the bodies of every answer
    latency: float = 0.0  # seconds each answer waits: a server across a network (bench/status.py)
    last_rv: int = 1000
    start_rv: int = 0  # the resourceVersion once the namespaces it starts with exist
    _lock: object = attrs.field(factory=threading.Lock)
    _snapshots: dict = attrs.field(factory=dict)  # the list a paged read is served from
    _changed: object = attrs.field(default=None)

    def __attrs_post_init__(self):
        super().__attrs_post_init__()
        self.kinds = {"v1/namespaces": ("Namespace", False), **self.kinds}  # every server has them
        for key, (kind, namespaced) in self.kinds.items():
            self.resources[key] = kmock.ResourceInfo(kind=kind, namespaced=namespaced, verbs=(
                "get", "list", "watch", "create", "update", "patch", "delete"))
        for name in self.namespaces:
            self._commit("v1/namespaces", None, None, {"metadata": {"name": name}}, {}, dry_run=False)
        self.start_rv = self.last_rv

    def put(self, key: str, ns: str, obj: dict) -> None:
        """Store an object as a write through the API would (a test's setup of thousands, without the HTTP)."""
        self._commit(key, ns, None, obj, {}, dry_run=False)

    def written(self) -> dict:
        """The objects created or changed since the server started."""
        return {k: o for k, o in self.objects.items() if int(o["metadata"]["resourceVersion"]) > self.start_rv}

    def inject(self, code: int, *, method=None, path=None, when=None, times=1, message="injected fault"):
        """The next `times` requests matching method/path/when (every one if times=-1) get `code` and change
        nothing."""
        with self._lock:
            self.faults.append(Fault(code, method, path, when, times, message))

    async def _handle(self, request):
        self.requests.append((request.method, str(request.url.relative()), request.headers.get("Accept", ""),
                              request.headers.get("User-Agent", "")))
        if self.latency:
            await asyncio.sleep(self.latency)
        response = await self._answer(request)
        self.answered_bytes += len(getattr(response, "body", None) or b"")
        return response

    async def _answer(self, request):
        fault = self._take_fault(request)
        message = (fault.message(request) if callable(fault.message) else fault.message) if fault else ""
        if fault and message.startswith("<"):  # a web page, as an SSO proxy or another port answers
            return aiohttp.web.Response(status=fault.code, text=message, content_type="text/html")
        if fault:
            return status(fault.code, aiohttp.web.Response(status=fault.code).reason, message)
        namespace_object = NAMESPACE_PATH.match(request.url.path)  # kmock reads it as a namespace prefix
        if namespace_object:
            return await self._serve_or_fail(request, "v1/namespaces", None, namespace_object.group(1))
        if request.resource is None or request.resource.plural is None:
            return await super()._handle(request)  # discovery
        key = f"{request.resource.group}/{request.resource.version}/{request.resource.plural}".lstrip("/")
        if key not in self.kinds:
            return status(404, "NotFound", "the server could not find the requested resource")
        if self._changed is None:
            self._changed = asyncio.Condition()
        if request.method == "GET" and request.params.get("watch") in ("true", "1"):
            return await self._watch(request, key)
        return await self._serve_or_fail(request, key, request.namespace, request.name)

    async def _serve_or_fail(self, request, key, ns, name):
        try:
            return await self._serve(request, key, ns, name)
        except ApiError as exc:
            return status(exc.code, exc.reason, exc.message, exc.details)

    def _take_fault(self, request):
        with self._lock:
            for fault in self.faults:
                if (fault.method in (None, request.method) and (fault.path is None or re.search(
                        fault.path, request.url.path)) and (fault.when is None or fault.when(request))):
                    fault.times -= 1
                    if not fault.times:
                        self.faults.remove(fault)
                    return fault
        return None

    async def _serve(self, request, key, ns, name):
        method, params = request.method, request.params
        if method == "GET" and name is None:
            metadata_only = "as=PartialObjectMetadataList" in request.headers.get("Accept", "")
            return aiohttp.web.json_response(self._list(key, ns, params.get("labelSelector", ""), metadata_only,
                                                        int(params.get("limit") or 0), params.get("continue")))
        if method == "GET" and request.subresource == "log":
            return await self._log(request, ns, name)
        if method == "GET":
            return aiohttp.web.json_response(self._get(key, ns, name))
        dry_run = params.get("dryRun") == "All"
        manager = params.get("fieldManager", "")
        body = request.data if request.data is not None else (yaml.safe_load(request.text) if request.text else {})
        if method == "POST":
            obj, created = self._create(key, ns, body, manager, dry_run), True
        elif method == "PUT":
            obj, created = self._replace(key, ns, name, body, manager, dry_run), False
        elif method == "PATCH" and request.headers.get("Content-Type", "").startswith(APPLY):
            obj, created = self._apply(key, ns, name, body, manager, params.get("force") == "true", dry_run)
        elif method == "PATCH":
            obj, created = self._merge_patch(key, ns, name, body, manager, dry_run), False
        elif method == "DELETE":
            return aiohttp.web.json_response(self._delete(key, ns, name, dry_run))
        else:
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported")
        return aiohttp.web.json_response(obj, status=201 if created else 200)

    # --- reads -------------------------------------------------------------------------------------------

    def _get(self, key, ns, name):
        obj = self.objects.get((key, ns, name))
        if obj is None:
            raise ApiError(404, "NotFound", f'{key.rsplit("/", 1)[1]} "{name}" not found', _details(key, name))
        return self._out(key, obj)

    def _list(self, key, ns, selector, metadata_only=False, limit=0, token=None):
        """As the server lists: in key order (namespace, name); `limit` items a page with an opaque `continue` token
        (the last key given, and the resourceVersion the list was read at); metadata only when the client asks for
        a PartialObjectMetadataList (Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1)."""
        after, version = (json.loads(base64.b64decode(token)) if token else (None, str(self.last_rv)))
        snapshot = (key, ns, selector, version)
        found = self._snapshots.get(snapshot) if token else None
        if found is None:  # the list as of `version`: later pages come from it, as etcd serves them at a revision
            match = selector_matcher(selector)
            found = sorted(((n or "", name), o) for (k, n, name), o in list(self.objects.items())
                           if k == key and (ns is None or n == ns) and match(o["metadata"].get("labels") or {}))
            self._snapshots = {snapshot: (found, [at for at, _ in found])}
        else:
            found = found[0]
        keys = self._snapshots[snapshot][1]
        start = bisect.bisect_right(keys, tuple(after)) if after is not None else 0
        found = found[start:]
        page = found[:limit] if limit else found
        meta = {"resourceVersion": version}
        if limit and len(found) > limit:
            meta["continue"] = base64.b64encode(json.dumps([list(page[-1][0]), version]).encode()).decode()
            meta["remainingItemCount"] = len(found) - limit
        if metadata_only:
            return {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                    "items": [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                               "metadata": self._out_metadata(key, o)} for _, o in page]}
        kind, _ = self.kinds[key]
        return {"kind": f"{kind}List", "apiVersion": _group_version(key), "metadata": meta,
                "items": [self._out(key, o) for _, o in page]}

    def _existing(self, key, ns, name):
        """The stored object (not a copy), or a 404 as the server says it."""
        self._get(key, ns, name)
        return self.objects[(key, ns, name)]

    def _out_metadata(self, key, obj):
        """The metadata as the server answers it (a shallow copy: it is serialized at once, never changed)."""
        return {**obj["metadata"], "managedFields": self._managed(key, obj)}

    def _out(self, key, obj):
        out = copy.deepcopy(obj)
        out["metadata"]["managedFields"] = self._managed(key, obj)
        return out

    def _managed(self, key, obj):
        return [{"manager": m, "operation": op, "apiVersion": _group_version(key), "fieldsType": "FieldsV1",
                    "fieldsV1": fields_v1(paths)} for m, (op, paths) in sorted(self.owners.get(
                        (key, obj["metadata"].get("namespace"), obj["metadata"]["name"]), {}).items())]

    async def _watch(self, request, key):
        ns, params = request.namespace, request.params
        match = selector_matcher(params.get("labelSelector", ""))
        timeout = float(params.get("timeoutSeconds", 0)) or None
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request._raw_request)
        since = int(params.get("resourceVersion") or 0)
        if not since:
            for (k, n, _), obj in sorted(self.objects.items(), key=lambda kv: (kv[0][1] or "", kv[0][2])):
                if k == key and (ns is None or n == ns) and match(obj["metadata"].get("labels") or {}):
                    await _send(response, "ADDED", self._out(k, obj))
            since = self.last_rv
        deadline = asyncio.get_running_loop().time() + timeout if timeout else None
        while True:
            for rv, kind, (k, n, _), obj in [e for e in self.events if e[0] > since]:
                since = rv
                if k == key and (ns is None or n == ns) and match(obj["metadata"].get("labels") or {}):
                    await _send(response, kind, obj)
            left = deadline - asyncio.get_running_loop().time() if deadline else None
            if left is not None and left <= 0:
                break
            async with self._changed:
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    break
        await response.write_eof()
        return response

    async def _log(self, request, ns, name):
        self._get("v1/pods", ns, name)
        text = self.logs.get((ns, name))
        if text is None:
            raise ApiError(400, "BadRequest", f'container "main" in pod "{name}" is waiting to start')
        return aiohttp.web.Response(text=text, content_type="text/plain")

    # --- writes ------------------------------------------------------------------------------------------

    def _create(self, key, ns, body, manager, dry_run):
        meta = body.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choices(string.ascii_lowercase + string.digits,
                                                                         k=5))
        if not meta.get("name"):
            raise ApiError(422, "Invalid", "metadata.name: Required value: name or generateName is required")
        if (key, ns, meta["name"]) in self.objects:
            raise ApiError(409, "AlreadyExists", f'{key.rsplit("/", 1)[1]} "{meta["name"]}" already exists',
                           _details(key, meta["name"]))
        return self._commit(key, ns, None, body, {manager or "unknown": ("Update", set(leaf_paths(body)))},
                            dry_run)

    def _replace(self, key, ns, name, body, manager, dry_run):
        current = self._existing(key, ns, name)
        wanted = body.get("metadata", {}).get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {key.rsplit("/", 1)[1]} "{name}": '
                           "the object has been modified; please apply your changes to the latest version and "
                           "try again")
        owners = self._take_ownership(key, ns, name, manager or "unknown", "Update", set(leaf_paths(body)))
        return self._commit(key, ns, current, body, owners, dry_run)

    def _merge_patch(self, key, ns, name, patch, manager, dry_run):
        current = self._existing(key, ns, name)
        merged = merge_patch(copy.deepcopy(current), patch)
        owners = self._take_ownership(key, ns, name, manager or "unknown", "Update", set(leaf_paths(patch)))
        return self._commit(key, ns, current, merged, owners, dry_run)

    def _apply(self, key, ns, name, body, manager, force, dry_run):
        if not manager:
            raise ApiError(400, "BadRequest", "PATCH requests with apply-patch+yaml content require fieldManager")
        mine = set(leaf_paths(body))
        current = self.objects.get((key, ns, name))
        if current is None:
            return self._commit(key, ns, None, body, {manager: ("Apply", mine)}, dry_run), True
        owners = self.owners.get((key, ns, name), {})
        conflicts = sorted((other, path) for path in mine if get_path(current, path) != get_path(body, path)
                           for other, (_, paths) in owners.items() if other != manager and path in paths)
        if conflicts and not force:
            listed = "; ".join(f'conflict with "{m}" using {_group_version(key)}: .{".".join(p)}'
                               for m, p in conflicts)
            raise ApiError(409, "Conflict", f"Apply failed with {len(conflicts)} conflict"
                           f"{'s' if len(conflicts) > 1 else ''}: {listed}")
        result = copy.deepcopy(current)
        still_owned = set().union(*(paths for m, (_, paths) in owners.items() if m != manager))
        for path in owners.get(manager, ("", set()))[1] - mine - still_owned:
            delete_path(result, path)  # what this manager applied before and no longer does goes away
        deep_merge(result, body)
        return self._commit(key, ns, current, result, self._take_ownership(key, ns, name, manager, "Apply", mine),
                            dry_run), False

    def _take_ownership(self, key, ns, name, manager, operation, paths):
        owners = {m: (op, set(p) - paths) for m, (op, p) in self.owners.get((key, ns, name), {}).items()}
        owners[manager] = (operation, paths | (owners.get(manager, ("", set()))[1] if operation == "Update"
                                               else set()))
        return {m: v for m, v in owners.items() if v[1]}

    def _delete(self, key, ns, name, dry_run):
        obj = self._get(key, ns, name)
        if not dry_run:
            with self._lock:
                del self.objects[(key, ns, name)]
                self.owners.pop((key, ns, name), None)
            self._emit("DELETED", (key, ns, name), obj)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "kind": key.rsplit("/", 1)[1]}}

    def _commit(self, key, ns, current, obj, owners, dry_run):
        obj = copy.deepcopy(obj)
        kind, namespaced = self.kinds[key]
        if namespaced and current is None and ("v1/namespaces", None, ns) not in self.objects:
            raise ApiError(404, "NotFound", f'namespaces "{ns}" not found',  # the NamespaceLifecycle admission
                           _details("v1/namespaces", ns))
        obj["apiVersion"], obj["kind"] = _group_version(key), kind
        meta = obj.setdefault("metadata", {})
        if namespaced:
            meta["namespace"] = ns
        for field in SERVER_SET:
            meta.pop(field, None)
        if current is None:
            meta.update(uid=str(uuid.uuid4()), generation=1, creationTimestamp=datetime.datetime.now(
                datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        else:
            old = current["metadata"]
            meta.update(uid=old["uid"], creationTimestamp=old["creationTimestamp"], generation=old["generation"]
                        + (_content(obj) != _content(current)))
        meta["resourceVersion"] = str(self.last_rv if dry_run else self._bump())
        object_key = (key, ns, meta["name"])
        if dry_run:
            return self._out(key, obj)
        if len(json.dumps(obj, separators=(",", ":"))) > ETCD_LIMIT:
            raise ApiError(500, "InternalError", "etcdserver: request is too large")
        with self._lock:
            self.objects[object_key] = obj
            self.owners[object_key] = owners
        self._emit("MODIFIED" if current else "ADDED", object_key, self._out(key, obj))
        return self._out(key, obj)

    def _bump(self) -> int:
        self.last_rv += 1
        return self.last_rv

    def _emit(self, kind, object_key, obj):
        rv = self._bump() if kind == "DELETED" else int(obj["metadata"]["resourceVersion"])
        self.events.append((rv, kind, object_key, obj))
        if self._changed is not None:  # made at the first request: before it, nobody can be watching
            asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self):
        async with self._changed:
            self._changed.notify_all()


async def _send(response, kind, obj):
    await response.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")


def _group_version(key: str) -> str:
    return key.rsplit("/", 1)[0]


def _content(obj) -> dict:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


# --- field paths, merging, selectors ---------------------------------------------------------------------

def leaf_paths(obj, prefix=()):
    """Field paths a body sets: dict keys recursively; lists and scalars are atomic leaves."""
    for k, v in obj.items():
        path = prefix + (k,)
        if path in (("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace")) or (
                len(path) == 2 and path[0] == "metadata" and path[1] in SERVER_SET):
            continue
        if isinstance(v, dict) and v:
            yield from leaf_paths(v, path)
        else:
            yield path


def fields_v1(paths) -> dict:
    tree: dict = {}
    for path in sorted(paths):
        node = tree
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return tree


def get_path(obj, path):
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def delete_path(obj, path):
    parents = []
    for part in path[:-1]:
        if not isinstance(obj.get(part), dict):
            return
        parents.append((obj, part))
        obj = obj[part]
    obj.pop(path[-1], None)
    for parent, part in reversed(parents):
        if not parent[part]:
            del parent[part]


def deep_merge(target: dict, source: dict) -> dict:
    for k, v in source.items():
        if isinstance(v, dict) and isinstance(target.get(k), dict):
            deep_merge(target[k], v)
        else:
            target[k] = copy.deepcopy(v)
    return target


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch (strategic merge patches are treated the same here)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    target = target if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target


_REQUIREMENT = re.compile(r"\s*(!?)([\w./-]+)\s*(?:(==|=|!=)\s*([\w.-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*$")


def selector_matcher(selector: str):
    """A label selector (equality and set-based, as kubectl writes them) → predicate on a labels dict."""
    checks = []
    for part in re.split(r",(?![^(]*\))", selector) if selector.strip() else []:
        m = _REQUIREMENT.match(part)
        if not m:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {part!r}")
        negated, key, op, value, set_op, values = m.groups()
        if set_op:
            allowed = {v.strip() for v in values.split(",")}
            checks.append(lambda labels, k=key, a=allowed, neg=set_op == "notin": (labels.get(k) in a) != neg
                          if k in labels else neg)
        elif op:
            checks.append(lambda labels, k=key, v=value, neg=op == "!=": (labels.get(k) == v) != neg)
        else:
            checks.append(lambda labels, k=key, neg=bool(negated): (k in labels) != neg)
    return lambda labels: all(check(labels) for check in checks)


# --- running it ----------------------------------------------------------------------------------------

class _Server(aiohttp.test_utils.RawTestServer):
    """aiohttp's test server with the API server's body limit (aiohttp's own default is 1 MiB), over TLS if given."""

    def __init__(self, handler, *, ssl_context=None, **kwargs):
        super().__init__(handler, **kwargs)
        self.ssl_context = ssl_context

    async def start_server(self, loop=None, **kwargs):
        await super().start_server(loop, **({"ssl": self.ssl_context} if self.ssl_context else {}), **kwargs)

    async def _make_runner(self, debug=True, **kwargs):
        def request(message, payload, protocol, writer, task):
            return aiohttp.web.BaseRequest(message, payload, protocol, writer, task, asyncio.get_running_loop(),
                                           client_max_size=BODY_LIMIT)
        return await super()._make_runner(debug=debug, request_factory=request, **kwargs)


def self_signed_certificate(directory) -> tuple[str, str]:
    """(certificate, key) files for 127.0.0.1, the certificate its own CA, as a cluster's ca.crt."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = f"{directory}/ca.crt", f"{directory}/server.key"
    with open(cert_path, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


class RunningApiServer:
    """The emulator on 127.0.0.1 in a thread of its own, with a kubeconfig pointing at it; over HTTPS when
    given a (certificate, key) pair, as pods reach the API server."""

    def __init__(self, kinds: dict, tls: tuple[str, str] | None = None, namespaces=("default",)):
        self.api = ApiServer(kinds=kinds, namespaces=tuple(namespaces))
        self.tls = tls
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)
        self.url = ""

    async def _serve(self):
        self._stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        server_class = _Server
        if self.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.tls)
            server_class = functools.partial(_Server, ssl_context=context)
        async with self.api, kmock.Server(self.api, server_cls=server_class) as server:
            self.url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()

    def __enter__(self):
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the API server emulator did not start")
        return self

    def __exit__(self, *exc):
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def kubeconfig(self, path, namespace="ml", context="test") -> str:
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": "test-token"}}],
            "contexts": [{"name": context, "context": {"cluster": "emulator", "user": "tester",
                                                       "namespace": namespace}}],
        }
        with open(path, "w") as f:
            yaml.safe_dump(config, f)
        return str(path)
