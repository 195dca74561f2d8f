"""What water decides on a pipeline's revisions, on the in-memory store (the ConfigMap store behind the same
interface is tested end to end in test_deploy.py against the API server emulator)."""
from __future__ import annotations

import pytest

from water import deploy
from water.errors import WaterError
from water.revisions import KEEP, MemoryStore, Revision, pick

MANIFEST = "---\napiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata: {name: p, namespace: team}\n"


def _revision(spec: str) -> Revision:
    return Revision(0, spec, MANIFEST, {"sql/a.sql": "SELECT 1"}, [], {"limit": "7"},
                    {"hash": spec, "note": "deploy"})


def test_numbers_follow_the_latest_and_only_the_last_ones_are_kept():
    store = MemoryStore()
    for i in range(KEEP + 3):
        assert store.add("p", _revision(f"spec {i}"), i) == i + 1
    assert [r.number for r in store.list("p")] == list(range(KEEP + 3, 3, -1))
    assert store.add("p", _revision("late"), 5) == KEEP + 4  # planned against 5, numbered after the newest


def test_rollback_takes_the_one_before_the_latest_or_the_one_named():
    store = MemoryStore()
    for i in range(3):
        store.add("p", _revision(f"spec {i}"), i)
    bundle = deploy.rollback_bundle(store, "p", "ml")
    assert (bundle.spec, bundle.note, bundle.params, bundle.namespace) == ("spec 1", "rollback to revision 2",
                                                                          {"limit": "7"}, "team")
    assert deploy.rollback_bundle(store, "p", "ml", 1).spec == "spec 0"
    with pytest.raises(WaterError, match=r"no revision 9 \(kept: 3, 2, 1\)"):
        deploy.rollback_bundle(store, "p", "ml", 9)
    with pytest.raises(WaterError, match="no earlier revision"):
        deploy.rollback_bundle(MemoryStore(), "q", "ml")


def test_an_unreadable_revision_is_listed_but_never_picked():
    found = [Revision(2, stored_as="p-water-rev-2", unreadable="BadGzipFile: not gzip"), _revision("ok")]
    with pytest.raises(WaterError, match="revision 2 of 'p' cannot be read"):
        pick(found, "p", "ml", 2)
    with pytest.raises(WaterError, match="no revisions in namespace 'ml'"):
        pick([], "p", "ml", None)


def test_the_configmap_store_takes_the_next_free_number_and_gives_up_after_five_taken():
    from water.cluster import MemoryCluster
    from water.errors import DeployError
    from water.revisions import ConfigMapStore

    cluster = MemoryCluster(namespaces=("ml",), namespace="ml")
    store = ConfigMapStore(cluster, "ml")
    assert store.add("p", _revision("a"), 0) == 1

    def another_deploy_takes_it_first(verb, kind, name):
        """Each number this deploy asks for was just recorded by another deploy."""
        if verb == "create" and ("ConfigMap", "ml", name) not in cluster.objects:
            number = name.rsplit("-", 1)[1]
            cluster.objects[("ConfigMap", "ml", name)] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
                "name": name, "namespace": "ml", "labels": {"water/pipeline": "p", "water/revision": number}}}
        return None

    cluster.faults.append(another_deploy_takes_it_first)
    with pytest.raises(DeployError, match="revision numbers up to 6 were all taken"):
        store.add("p", _revision("b"), 1)
    cluster.faults.clear()
    assert store.add("p", _revision("b"), 1) == 7
