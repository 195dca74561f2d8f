"""Rendered objects → the cluster: diff against what is live, a server-side dry run of every change before the
first real write, server-side apply as field manager `water`, pruning by label; then the revision is recorded in
the pipeline's revision store (water.revisions: in the cluster, so history, rollback and edit need nothing else)."""
from __future__ import annotations

import getpass
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from water import contract, drift, monitors
from water.review import diff as review_diff
from water.review import steps_name, steps_set
from water.cluster import KINDS, Cluster
from water.console import Console
from water.errors import ApiError, ClusterError, Conflict, DeployError, NotFound, WaterError
from water.render import configs, to_yaml
from water.render.pods import PIPELINE_LABEL
from water.revisions import KEEP, ConfigMapStore, Revision, manifest_objects, pick

if TYPE_CHECKING:
    from water.pipeline import Pipeline


PRUNABLE = ("WorkflowTemplate", "CronWorkflow", "CronJob", "EventSource", "Sensor")  # what a revision may stop having


@dataclass
class Bundle:
    """What one revision deploys: the spec and the files it read, and the exact manifests rendered from them."""

    name: str
    spec: str
    files: dict
    manifests: str
    namespace: str | None = None  # the spec's metadata.namespace
    params: dict = field(default_factory=dict)  # --param overrides the manifests were rendered with
    git: dict = field(default_factory=dict)
    note: str = "deploy"
    monitors: list = field(default_factory=list)  # Datadog monitor definitions (alerts.datadog.monitors)
    warnings: list = field(default_factory=list)  # what rendering warned about, said before deploying
    secrets: list = field(default_factory=list)  # [Secret, the field naming it] the pods read
    env: str = ""  # the spec.environments entry it was rendered for
    rendered: list | None = None  # the objects the manifests were written from, when this process rendered them

    @property
    def objects(self) -> list:
        """What was rendered (a plan sets their namespace, the same each time), else read back from the manifests (a
        revision's), with libyaml where PyYAML has it."""
        return self.rendered if self.rendered is not None else manifest_objects(self.manifests)

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.manifests.encode()).hexdigest()

    @property
    def steps_hash(self) -> str:
        """The hash naming its steps' ConfigMaps ("" when it has none: a CronJob, or rendered before them)."""
        return next((configs.hash_of(o) for o in self.objects if o["kind"] == "WorkflowTemplate"), "")


def bundle_from_path(path: str | None, params: dict, note: str = "deploy", env: str | None = None) -> Bundle:
    """`env`: as environment `env` of spec.environments deploys it (its namespace, parameter defaults, image)."""
    from water import pipeline

    p = pipeline.load(path)
    if env:
        pipeline.in_environment(p, env)
    with open(p.file, encoding="utf-8") as f:
        bundle = bundle_from_pipeline(p, f.read(), params, note)
    bundle.env = env or ""
    return bundle


def bundle_from_pipeline(p: Pipeline, spec: str, params: dict, note: str) -> Bundle:
    """The same rendering as `water render`, with --param overrides as the template's argument defaults."""
    from water import gitinfo, render

    p.spec.params = p.param_values(params)
    git = gitinfo.describe(p.project_dir)
    rendered = render.render(p, git.get("commit"), strict=True, git_branch=git.get("branch"))
    rendered.refuse_too_large()
    return Bundle(p.name, spec, p.sources(), to_yaml(rendered.objects), p.doc.metadata.namespace, dict(params), git,
                  note, monitors.definitions(p), rendered.warnings + render.placeholder_accounts(p), p.secrets(),
                  rendered=rendered.objects)


def deploy(cluster: Cluster, bundle: Bundle, namespace_flag: str | None, *, dry_run: bool = False, force: bool = False,
           console: Console = Console(), datadog: Any = monitors.Datadog, store: Any | None = None,
           aws: Callable[..., Any] | None = None) -> int | None:
    """Plan (manifests, what the steps define in AWS, Datadog monitors), show the diff, confirm (when the console
    asks), then execute: a server-side dry run of the manifests, the AWS definitions, the manifests, the monitors.
    `aws(service, region)` makes AWS clients (asked only when the pipeline defines something in AWS). Returns the
    new revision's number."""
    echo = console.echo
    p = plan(cluster, bundle, namespace_for(cluster, bundle, namespace_flag), store)
    defined = aws_plan(bundle, aws)
    datadog, monitor_changes = monitor_plan(bundle, p.latest, datadog)
    echo(f"pipeline {bundle.name} in namespace {p.namespace} ({cluster.where})")
    for line in bundle.warnings + missing_secrets(cluster, bundle.secrets, p.namespace, "the pods that read it "
                                                  "cannot start until it is there"):
        echo(f"warning: {line}")
    review(p.pending + [c for c in defined + monitor_changes if c.action != "unchanged"], p.namespace, "deploy",
           dry_run=dry_run, console=console)
    def sync_monitors():
        try:
            monitors.apply(datadog, monitor_changes, echo)
        except monitors.DatadogError as exc:  # unrecorded, the revision still names the monitors to fix
            raise DeployError(f"{exc}\nthe manifests were applied but no revision was recorded; `water deploy` "
                              "again finishes the monitors") from None

    number = execute(cluster, p, dry_run=dry_run, force=force, echo=echo,
                     then=sync_monitors if monitor_changes else None,
                     first=(lambda: define_in_aws(defined, echo)) if defined else None)
    if dry_run:
        for change in defined + monitor_changes:
            echo(f"{change}{' (dry run)' if change.action != 'unchanged' else ''}")
    return number


@dataclass
class AwsChange:
    """What a step defines in AWS (water.steps.base.Defined) as deploy reviews and applies it."""

    defined: Any
    diff: str

    @property
    def action(self) -> str:
        return self.defined.action

    def __str__(self) -> str:
        return str(self.defined)


def aws_plan(bundle: Bundle, aws: Callable[..., Any] | None = None) -> list:
    """Each AWS definition the bundle's manifests carry against what AWS has; AWS is asked only when there are
    some. An AWS error is one line naming what was being read."""
    from water.render import aws_definitions
    from water.steps import KINDS

    found = aws_definitions(bundle.objects)
    if not found:
        return []
    if aws is None:
        from water.runtime.aws import client as aws
    changes = []
    for definition in found:
        kind = KINDS[definition["kind"]]
        defined = _asking_aws(f"reading {definition['what']} from AWS", lambda: kind.defined(
            definition, bundle.files, aws))
        changes.append(AwsChange(defined, "" if defined.action == "unchanged" else review_diff(
            defined.what, defined.before, defined.after, source="AWS")))
    return changes


def define_in_aws(changes: list, echo: Callable[[str], object]) -> None:
    """Apply each pending AWS definition; a failure says what was defined and that the cluster is untouched."""
    done: list[str] = []
    for change in changes:
        if change.action == "unchanged":
            echo(str(change))
            continue
        _asking_aws(f"defining {change.defined.what} failed", change.defined.apply,
                    then=f"defined: {', '.join(done) or 'nothing'}; nothing was applied to the cluster")
        done.append(change.defined.what)
        echo(str(change))


def _asking_aws(doing: str, call: Callable[[], Any], then: str = "") -> Any:
    from water.runtime.aws import asking

    return asking(doing, call, DeployError, then)


def missing_secrets(cluster: Cluster, secrets: list, namespace: str, then: str) -> list:
    """A line for each Secret the pods read ([name, the fields that name it]) that the namespace does not have,
    ending with `then` (what follows from it); or saying it cannot be asked."""
    said = []
    for name in sorted({name for name, _ in secrets}):
        fields = ", ".join(f for n, f in secrets if n == name)
        try:
            found = cluster.get("Secret", name, namespace)
        except WaterError as exc:
            said.append(f"cannot tell whether Secret '{name}' ({fields}) is in namespace '{namespace}': {exc}")
            continue
        if found is None:
            said.append(f"Secret '{name}' ({fields}) is not in namespace '{namespace}': {then}")
    return said


def review(pending: list, namespace: str, what: str, *, dry_run: bool, console: Console) -> None:
    """Show each pending change's diff, then ask (when the console asks and this is no dry run)."""
    for change in pending:
        if change.diff:
            console.show_diff(change.diff)
    if pending and console.confirm and not dry_run and not console.confirm(len(pending), namespace):
        raise WaterError(f"{what} cancelled; nothing was applied")


def monitor_plan(bundle: Bundle, latest: Revision | None, datadog: Any = monitors.Datadog) -> tuple:
    """(Datadog, monitor changes); Datadog (`datadog()` connects) is asked only when this bundle or the latest
    revision has monitors, so pipelines without them never need Datadog keys."""
    if not (bundle.monitors or (latest and latest.monitors)):
        return None, []
    api = datadog()
    return api, monitors.plan(api, bundle.name, bundle.monitors)


@dataclass
class Change:
    obj: dict  # the object as it will be applied (or, for a prune, as it is live)
    action: str  # created | configured | unchanged | pruned
    diff: str = ""
    live: dict | None = None  # the object as it is live, when it is

    @property
    def ref(self) -> str:
        kind, group = self.obj["kind"].lower(), self.obj["apiVersion"].rpartition("/")[0]
        return f"{kind}.{group}/{self.obj['metadata']['name']}" if group else f"{kind}/{self.obj['metadata']['name']}"


@dataclass
class Plan:
    bundle: Bundle
    namespace: str
    changes: list
    store: Any  # where the pipeline's revisions are kept (water.revisions)
    latest: Revision | None  # the latest revision, if any

    @property
    def pending(self) -> list:
        return [c for c in self.changes if c.action != "unchanged"]

    @property
    def new_revision(self) -> bool:
        latest = self.latest
        return bool(self.pending) or latest is None or (latest.spec, latest.files, latest.hash) != (
            self.bundle.spec, self.bundle.files, self.bundle.hash)


def namespace_for(cluster: Cluster, bundle: Bundle, flag: str | None) -> str:
    if bundle.namespace and flag and flag != bundle.namespace:
        raise DeployError(f"the spec's namespace '{bundle.namespace}' does not match --namespace '{flag}'")
    return bundle.namespace or cluster.namespace


def plan(cluster: Cluster, bundle: Bundle, namespace: str, store: Any | None = None) -> Plan:
    """What deploying the bundle would change; `store`: where its revisions are (default: the cluster's)."""
    store = store or ConfigMapStore(cluster, namespace)
    objects = bundle.objects
    kinds = {o["kind"] for o in objects}
    cluster.require("CronJob" if kinds <= {"CronJob"} else "WorkflowTemplate")
    if "Sensor" in kinds:
        cluster.require("Sensor")
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    wanted = changes_for(cluster, [o for o in objects if not configs.is_steps_configmap(o)])
    keep = {(c.obj["kind"], c.obj["metadata"]["name"]) for c in wanted}
    prunes = [Change(_listed(live, kind), "pruned") for kind in served_kinds(cluster)
              for live in cluster.list_metadata(kind, selector(bundle.name), namespace)
              if (kind, live["metadata"]["name"]) not in keep]
    found = store.list(bundle.name)
    steps = steps_changes(cluster, bundle, namespace, wanted, found)
    return Plan(bundle, namespace, steps + wanted + prunes, store, found[0] if found else None)


def steps_changes(cluster: Cluster, bundle: Bundle, namespace: str, wanted: list, revisions: list) -> list:
    """The steps' ConfigMaps: the new set created (before the template that mounts it), reviewed as one object
    against the set the live template mounts; then each other set pruned unless one of the last KEEP revisions or
    a run still there (live, or kept to be retried or resubmitted) has it."""
    new = [o for o in bundle.objects if configs.is_steps_configmap(o)]
    listed = [_listed(m, "ConfigMap") for m in cluster.list_metadata(
        "ConfigMap", f"{selector(bundle.name)},{contract.STEPS_LABEL}", namespace)]
    live_by_name = {m["metadata"]["name"]: m for m in listed}
    changes = [_set_change(m, live_by_name.get(m["metadata"]["name"])) for m in new]
    created = [c for c in changes if c.action == "created"]
    if created:
        live = next((c.live for c in wanted if c.obj["kind"] == "WorkflowTemplate"), None)
        after = steps_set(new)
        before = _live_set(cluster, configs.hash_of(live) if live else "", namespace, bundle.name)
        if before:  # cut to the fields water writes, every task's config kept (those no longer there too)
            before = {**drift.project(before, after), "data": before.get("data") or {}}
        created[0].diff = review_diff(steps_name(bundle.name), before, after, source="live")
    return changes + _stale_sets(cluster, bundle, namespace, listed, revisions)


def _set_change(wanted: dict, live: dict | None) -> Change:
    """A ConfigMap of the new set against its name's live one: its data is in its name, so only labels can differ."""
    if live is None:
        return Change(wanted, "created")
    labels = (live["metadata"].get("labels") or {}, wanted["metadata"]["labels"])
    if labels[0] == labels[1]:
        return Change(wanted, "unchanged", live=live)
    return Change(wanted, "configured", review_diff(f"configmap/{wanted['metadata']['name']}", *(
        {"metadata": {"labels": side}} for side in labels), source="live"), live)


def _stale_sets(cluster: Cluster, bundle: Bundle, namespace: str, listed: list, revisions: list) -> list:
    """The sets to prune: those that neither this revision, the last KEEP - 1 before it, nor a run still in the
    namespace (asked only when there is something to prune) has."""
    by_hash: dict = {}
    for found in listed:
        by_hash.setdefault(configs.hash_of(found), []).append(found)
    kept = {bundle.steps_hash, *(r.info.get("steps", "") for r in revisions[:KEEP - 1])}
    stale = [h for h in by_hash if h not in kept]
    if stale and cluster.serves("WorkflowTemplate"):
        kept |= {configs.hash_of(run) for run in cluster.list_metadata("Workflow", selector(bundle.name), namespace)}
    return [Change(m, "pruned") for h in stale if h not in kept for m in by_hash[h]]


def _listed(item: dict, kind: str) -> dict:
    """An item of a metadata-only list as the object it stands for (PartialObjectMetadata names neither)."""
    return {"apiVersion": KINDS[kind][0], "kind": kind, "metadata": item["metadata"]}


def _live_set(cluster: Cluster, digest: str, namespace: str, name: str) -> dict | None:
    """The set of steps' ConfigMaps named by `digest`, as reviewed (None: none, as for a template rendered before
    them), its shards in their order (`-2` before `-10`)."""
    if not digest:
        return None
    found = cluster.list("ConfigMap", f"{selector(name)},{contract.STEPS_LABEL}={digest}", namespace)
    return steps_set(sorted(found, key=lambda m: (len(m["metadata"]["name"]), m["metadata"]["name"])))


def served_kinds(cluster: Cluster) -> list:
    """Prunable kinds the cluster serves (a CronJob-only cluster may have no Argo)."""
    return [kind for kind in PRUNABLE if cluster.serves(kind)]


def changes_for(cluster: Cluster, objects: list) -> list:
    """Each object against what is live: created, configured (with its diff) or unchanged."""
    return [_change(obj, cluster.get(obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace")))
            for obj in objects]


def _change(obj: dict, live: dict | None) -> Change:
    """Diffed as reviewed (water.review): each step's config decoded, SQL and scripts line by line."""
    name = f"{obj['kind'].lower()}/{obj['metadata']['name']}"
    if live is None:
        return Change(obj, "created", review_diff(name, None, _masked(obj, None, "after"), source="live"))
    current = drift.project(live, obj)
    if current == obj:
        return Change(obj, "unchanged", live=live)
    return Change(obj, "configured", review_diff(name, _masked(current, obj, "before"), _masked(obj, current, "after"),
                                                 source="live"), live)


def _masked(obj: dict, other: dict | None, side: str) -> dict:
    """A Secret as a diff shows it (as kubectl diff does): values masked, marked on the side where they differ."""
    if obj["kind"] != "Secret":
        return obj
    theirs = (other or {}).get("data") or {}
    return dict(obj, data={k: "***" if theirs.get(k) == v else f"*** ({side})" for k, v in (obj.get("data") or
                                                                                          {}).items()})


def selector(name: str) -> str:
    return f"{PIPELINE_LABEL}={name}"


def execute(cluster: Cluster, p: Plan, *, dry_run: bool = False, force: bool = False,
            echo: Callable[[str], object] = print, then: Callable[[], None] | None = None,
            first: Callable[[], None] | None = None) -> int | None:
    """Dry-run every change, run `first` (what the manifests' runs need in place), then apply, prune, run `then`
    (what must land before the revision says it did) and record the revision. Returns the new revision's number
    (None when nothing changed or on --dry-run). Raises DeployError saying what was and was not applied."""
    apply_changes(cluster, p.changes, dry_run=dry_run, force=force, echo=echo, undo=_undo(p), first=first)
    if dry_run:
        return None
    if then:
        then()
    if not p.new_revision:
        return None
    try:
        number = p.store.add(p.bundle.name, revision_of(p.bundle), p.latest.number if p.latest else 0)
    except ClusterError as exc:
        raise DeployError("\n".join([
            f"recording the revision failed: {exc}",
            f"applied: {_refs([c for c in p.changes if c.action != 'unchanged']) or 'nothing'}; no revision "
            f"records it, so `water history` does not show it (deploy again to record it)", _undo(p)])) from None
    echo(f"revision {number} recorded")
    return number


def apply_changes(cluster: Cluster, changes: list, *, dry_run: bool, force: bool, echo: Callable[[str], object],
                  undo: str, applied: Sequence = (), first: Callable[[], None] | None = None) -> None:
    """A server-side dry run of every pending change; then, unless `dry_run`, `first()` and each write in order.
    A rejected dry run writes nothing; a failed write says what was applied (`applied`: by an earlier call), what
    was not, and `undo`."""
    pending = [c for c in changes if c.action != "unchanged"]
    rejected = []
    for change in pending:
        try:
            _write(cluster, change, dry_run=True, force=force)
        except ApiError as exc:
            if exc.status in (401, 403) or exc.status >= 500:
                raise  # not about this object: the one-line error says it
            rejected.append(f"  {change.ref}: {_explain(exc)}")
    if rejected:
        what = f"only {_refs(applied)} was applied" if applied else "nothing was applied"
        raise DeployError(f"the server rejected the dry run; {what}:\n" + "\n".join(rejected))
    for change in changes:
        if change.action == "unchanged" or dry_run:
            echo(f"{change.ref} {change.action}{' (server dry run)' if change.action != 'unchanged' else ''}")
    if dry_run:
        return
    if first:
        first()
    done = list(applied)
    for change in pending:  # each line as its write lands: progress on long deploys, honest on failure
        try:
            _write(cluster, change, dry_run=False, force=force)
        except ClusterError as exc:
            doing = "pruning" if change.action == "pruned" else "applying"
            raise DeployError("\n".join([
                f"{doing} {change.ref} failed: {_explain(exc) if isinstance(exc, ApiError) else exc}",
                f"applied: {_refs(done) or 'nothing'}",
                f"not applied: {', '.join(c.ref for c in pending[len(done) - len(applied):])}", undo])) from None
        done.append(change)
        echo(f"{change.ref} {change.action}")


def _refs(changes) -> str:
    return ", ".join(f"{c.ref} ({c.action})" for c in changes)


def _write(cluster: Cluster, change: Change, *, dry_run: bool, force: bool) -> None:
    meta = change.obj["metadata"]
    if change.action == "pruned":
        cluster.delete(change.obj["kind"], meta["name"], namespace=meta["namespace"], dry_run=dry_run)
    else:
        cluster.apply(change.obj, dry_run=dry_run, force=force)


def _explain(exc: ApiError) -> str:
    if isinstance(exc, Conflict):
        return f"{exc} (another field manager changed it; --force-conflicts takes the fields back for water)"
    if isinstance(exc, NotFound) and exc.details.get("kind") == "namespaces":  # the NamespaceLifecycle admission
        return (f"{exc.detail} (water install -n {exc.details.get('name')} creates it with the service accounts "
                "water's pods run as)")
    return str(exc)


def _undo(p: Plan) -> str:
    if p.latest:
        return f"to go back: water rollback {p.bundle.name} --to {p.latest.number} -n {p.namespace}"
    return f"to remove what was applied: water delete {p.bundle.name} -n {p.namespace}"


# --- revisions (kept by water.revisions' stores) --------------------------------------------------------------

def revision_of(bundle: Bundle) -> Revision:
    """What a deploy of the bundle records: the bundle, and who deployed it when, from which commit."""
    info = {"hash": bundle.hash, "user": getpass.getuser(), "time": _now(), "note": bundle.note,
            **({"steps": bundle.steps_hash} if bundle.steps_hash else {}),
            **({"env": bundle.env} if bundle.env else {}), **{f"git-{k}": str(v) for k, v in bundle.git.items()}}
    return Revision(0, bundle.spec, bundle.manifests, bundle.files, bundle.monitors, bundle.params, info)


def rollback_bundle(store: Any, name: str, namespace: str, number: int | None = None) -> Bundle:
    """Revision `number` (default: the one before the latest) as a bundle to deploy again."""
    found = store.list(name)
    if number is None:
        if len(found) < 2:
            raise WaterError(f"pipeline '{name}' has no earlier revision to roll back to")
        number = found[1].number
    return bundle_from_revision(pick(found, name, namespace, number), name, namespace,
                                f"rollback to revision {number}")


def bundle_from_revision(revision: Revision, name: str, namespace: str, note: str) -> Bundle:
    """Revision's exact manifests (read once), as the environment it was deployed as."""
    objects = manifest_objects(revision.manifests)
    first: dict = objects[0] if objects else {}
    return Bundle(name, revision.spec, revision.files, revision.manifests,
                  first.get("metadata", {}).get("namespace") or namespace, revision.params, revision.git, note,
                  revision.monitors, env=revision.info.get("env", ""), rendered=objects)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

