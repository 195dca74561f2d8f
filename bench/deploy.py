"""What a deploy costs beside a render of the same spec, against the test API server (tests/kubeapi.py, a thread of
this process) — run on demand: for 500, 4,000 and 20,000 steps (the anchors' large topology), the seconds of
loading and rendering the spec (the peer), and of `water deploy` when nothing changed and when every step changed
(its diff shown as by default: summarized), as ratios to the render of the same round, with the seconds spent
waiting on the server's answers (its own work: this in-process server applies and stores 1 MiB objects in Python);
and the largest object deployed.

    python bench/deploy.py [--runs 3] [--sizes 500,4000,20000] [--anchors ../shared/bench-anchors]

Goals (issue 16): unchanged <= 2x render, all changed <= 3x render.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, HERE)

from kubeapi import ARGO, CORE, RunningApiServer  # noqa: E402
from render import water_spec  # noqa: E402


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="500,4000,20000")
    parser.add_argument("--anchors", default=os.path.join(HERE, "..", "..", "shared", "bench-anchors"))
    args = parser.parse_args()
    sys.path.insert(0, os.path.abspath(args.anchors))
    import topology

    from water import deploy, pipeline, render
    from water.console import Console
    from water.kube import KubeCluster, Target

    quiet = Console(echo=lambda line: None, show_diff=lambda text: None)
    print("steps   render    unchanged deploy (server)      all-changed deploy (server)    largest object")
    for size in (int(s) for s in args.sizes.split(",")):
        rows = []
        for _ in range(args.runs):
            with RunningApiServer({**CORE, **ARGO}, namespaces=("ml",)) as server, \
                    tempfile.TemporaryDirectory() as tmp:
                cluster = KubeCluster(Target(server.kubeconfig(os.path.join(tmp, "kubeconfig")), None, "ml"))
                waited = [0.0]
                asked = cluster.request

                def request(*args, **kwargs):
                    started = time.perf_counter()
                    try:
                        return asked(*args, **kwargs)
                    finally:
                        waited[0] += time.perf_counter() - started
                cluster.request = request  # type: ignore[method-assign]
                spec = os.path.join(tmp, "water.yaml")
                with open(spec, "w") as f:
                    f.write(water_spec(topology, "large", size // 10))
                def ship():
                    deploy.deploy(cluster, deploy.bundle_from_path(spec, {}), "ml", console=quiet)
                ship()  # the first deploy: everything created
                objects = []
                peer = timed(lambda: objects.extend(render.render(pipeline.load(spec)).objects) or render.to_yaml(
                    objects))
                largest = max(objects, key=lambda o: len(render.to_json(o)))
                waited[0] = 0.0
                unchanged = timed(ship)
                unchanged_waited = waited[0]
                with open(spec) as f:
                    text = f.read()
                with open(spec, "w") as f:
                    f.write(text.replace("echo stage", "echo Stage"))
                waited[0] = 0.0
                changed = timed(ship)
                rows.append((peer, unchanged, changed, unchanged_waited, waited[0]))
        peer, unchanged, changed, unchanged_waited, changed_waited = (
            statistics.median(r[i] for r in rows) for i in range(5))
        print(f"{size:>5}  {peer:6.2f} s  {unchanged:6.2f} s = {unchanged / peer:4.1f}x ({unchanged_waited:5.2f} s)   "
              f"{changed:6.2f} s = {changed / peer:4.1f}x ({changed_waited:5.2f} s)   {largest['kind']} "
              f"{len(render.to_json(largest)) / 1024 / 1024:.2f} MiB")


if __name__ == "__main__":
    main()
