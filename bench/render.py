"""Process wall time of `water render` on 10, 500 and 5,000 steps, of a `water new` project (whose images are
`framework:version`), and of `water --help`,
side by side with Hera and the plain-dict floor rendering the same topology in the same run.

Each round runs every command once, in an order rotated per round (so drift on this shared
machine hits all alike); round 0 is a warm-up and is discarded. Figures are medians; the
ratios compare commands measured in the same rounds.

    python bench/render.py [--runs 7] [--hera-python VENV/bin/python] [--anchors ../shared/bench-anchors]
                           [--instructions]

--instructions also counts, once per command, the instructions it executes (valgrind's callgrind, with a fixed
hash seed): a figure the machine's load cannot move, at ~50x the run time (Hera at 5,000 steps: ~2.5 min).

Hera is installed only for this comparison, in its own venv: `python -m venv /tmp/hera &&
/tmp/hera/bin/pip install hera pyyaml`. Without --hera-python the Hera rows are left out.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = {"10": ("small", 0), "500": ("large", 50), "5000": ("large", 500)}


def water_spec(topology, case: str, chains: int) -> str:
    """The anchors' topology as a water.yaml: container steps with the same graph and resources."""
    head = ["apiVersion: water/v1", "kind: Pipeline", f"metadata: {{name: bench-{case}}}", "spec:",
            f"  image: {topology.IMAGE}", f"  schedule: {{cron: '{topology.SCHEDULE}', timezone: {topology.TIMEZONE}}}",
            f"  defaults: {{retries: {topology.RETRY['limit']}}}", "  steps:"]
    steps = []
    if case == "small":
        for name, deps, cpu, mem, _cpu_limit, _mem_limit in topology.SMALL:
            steps.append((name, deps, cpu, mem, ["sh", "-c", f"echo {name}"]))
    else:
        for name, stage, chain, deps in topology.large(chains):
            cpu, mem, _, _ = topology.stage_resources(stage)
            steps.append((name, deps, cpu, mem, ["sh", "-c", f"echo stage {stage} chain {chain}"]))
    for name, deps, cpu, mem, command in steps:
        after = f", after: [{', '.join(deps)}]" if deps else ""
        steps_line = (f"    - {{name: {name}{after}, resources: {{cpu: '{cpu}', memory: {mem}}}, "
                      f"container: {{command: [{', '.join(command)}]}}}}")
        head.append(steps_line)
    return "\n".join(head) + "\n"


def instructions(argv: list) -> int:
    """Instructions the command executes, counted by callgrind: the same on every run."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    counted = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode or not counted:
        raise SystemExit(f"failed under valgrind: {' '.join(argv)}\n{done.stderr[-2000:]}")
    return int(counted.group(1))


def run_once(argv: list) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"failed: {' '.join(argv)}\n{done.stderr.decode()[-2000:]}")
    return wall


def commands(args, work: str) -> dict:
    sys.path.insert(0, args.anchors)
    import topology  # the anchors' tool-neutral description

    water = shutil.which("water", path=os.path.dirname(sys.executable)) or "water"
    cmds = {"water --help": [water, "--help"]}
    scaffold = os.path.join(work, "new")
    subprocess.run([water, "new", "images", "--dir", scaffold], check=True, stdout=subprocess.DEVNULL)
    # framework:version images (sklearn:1.2-1, xgboost:1.7-1) resolved from water's table, SDK installed or not
    cmds["water new project (framework images)"] = [water, "render", os.path.join(scaffold, "images")]
    for size, (case, chains) in SIZES.items():
        folder = os.path.join(work, f"water-{size}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "water.yaml"), "w") as f:
            f.write(water_spec(topology, case, chains))
        cmds[f"water {size}"] = [water, "render", folder, "--dir", os.path.join(work, f"out-{size}")]
        anchor = ["--case", case] + (["--chains", str(chains)] if chains else [])
        cmds[f"floor {size}"] = [sys.executable, os.path.join(args.anchors, "render_floor.py"), *anchor,
                                 "--out", os.path.join(work, f"floor-{size}.yaml")]
        if args.hera_python:
            cmds[f"hera {size}"] = [args.hera_python, os.path.join(args.anchors, "render_hera.py"), *anchor,
                                    "--out", os.path.join(work, f"hera-{size}.yaml")]
    return cmds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--hera-python", default="")
    parser.add_argument("--anchors", default=os.path.join(ROOT, "..", "shared", "bench-anchors"))
    parser.add_argument("--instructions", action="store_true", help="also count instructions (needs valgrind)")
    args = parser.parse_args()
    if args.instructions and not shutil.which("valgrind"):
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as work:
        cmds = commands(args, work)
        names = list(cmds)
        samples: dict = {k: [] for k in names}
        for r in range(args.runs + 1):
            for name in names[r % len(names):] + names[:r % len(names)]:
                wall = run_once(cmds[name])
                if r:
                    samples[name].append(wall)
        median = {k: statistics.median(v) for k, v in samples.items()}
        counted = {k: instructions(cmds[k]) / 1e6 for k in names} if args.instructions else {}
        sizes = {size: _bytes_per_step(work, size) for size in SIZES}
    print(f"{args.runs} rounds after a warm-up; process wall time, median (min-max), seconds")
    print("| command | median | min | max |")
    print("|---|---|---|---|")
    for name in names:
        print(f"| {name} | {median[name]:.3f} | {min(samples[name]):.3f} | {max(samples[name]):.3f} |")
    print()
    _ratios(median, "{:.3f}")
    if counted:
        print("\ninstructions executed (millions, callgrind)")
        print("| command | instructions |\n|---|---|")
        for name in names:
            print(f"| {name} | {counted[name]:.0f} |")
        print()
        _ratios(counted, "{:.0f}")
    _sizes(sizes)


def _bytes_per_step(work: str, size: str) -> dict:
    """YAML bytes per step of what each renderer wrote: water's template (the DAG), its steps' ConfigMaps and all
    it writes; Hera's Workflow (its configs are inline, in each task's arguments and each template's command)."""
    steps = int(size)
    water_dir = os.path.join(work, f"out-{size}")
    files = {name: os.path.getsize(os.path.join(water_dir, name)) for name in os.listdir(water_dir)}
    hera = os.path.join(work, f"hera-{size}.yaml")
    return {"template": sum(v for k, v in files.items() if k.startswith("workflowtemplate-")) / steps,
            "configs": sum(v for k, v in files.items() if k.startswith("configmap-")) / steps,
            "all": sum(files.values()) / steps,
            "hera": os.path.getsize(hera) / steps if os.path.exists(hera) else None}


def _sizes(sizes: dict) -> None:
    print("\nYAML bytes per step (the goal: water's template <= Hera's Workflow)")
    print("| steps | water template | water steps' ConfigMaps | water, all objects | hera | water template / hera |")
    print("|---|---|---|---|---|---|")
    for size, b in sizes.items():
        hera = f"{b['hera']:.0f} | {b['template'] / b['hera']:.2f}x" if b["hera"] else "- | -"
        print(f"| {size} | {b['template']:.0f} | {b['configs']:.0f} | {b['all']:.0f} | {hera} |")


def _ratios(figures: dict, shown: str) -> None:
    print("| steps | water | floor | water / floor | hera | hera / water |")
    print("|---|---|---|---|---|---|")
    for size in SIZES:
        w, f = figures[f"water {size}"], figures[f"floor {size}"]
        h = figures.get(f"hera {size}")
        hera = f"{shown.format(h)} | {h / w:.1f}x" if h else "- | -"
        print(f"| {size} | {shown.format(w)} | {shown.format(f)} | {w / f:.1f}x | {hera} |")


if __name__ == "__main__":
    main()
