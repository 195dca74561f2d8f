"""Live against wanted: the live object cut to the fields water writes, and the diff between the two."""
from __future__ import annotations

import difflib
import os
import shutil
from typing import Any


def project(live: Any, wanted: Any) -> Any:
    """`live` cut to the fields `wanted` has: server defaults and status are not water's to diff."""
    if isinstance(live, dict) and isinstance(wanted, dict):
        return {k: project(live[k], v) for k, v in wanted.items() if k in live}
    if isinstance(live, list) and isinstance(wanted, list) and len(live) == len(wanted):
        return [project(a, b) for a, b in zip(live, wanted)]
    return live


BIG_DIFF = 2000  # lines: past this, difflib's longest-match search (quadratic on YAML's repeated lines) is left to diff


def unified_diff(name: str, before: str, after: str, *, source: str) -> str:
    """`before` (from `source`/name) against `after` (water/name), as `diff -u` shows them."""
    return labelled_diff(before, after, f"{source}/{name}", f"water/{name}")


def labelled_diff(before: str, after: str, old: str, new: str) -> str:
    """A unified diff; of big texts through GNU diff (Myers' algorithm in C: 4,000 changed steps in well under a
    second, where difflib took 40 s) when the machine has it, the same format either way."""
    if before == after:
        return ""
    if max(before.count("\n"), after.count("\n")) > BIG_DIFF and shutil.which("diff"):
        return _gnu_diff(before, after, old, new)
    return _difflib(before, after, old, new)


def _difflib(before: str, after: str, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), old, new))


def _gnu_diff(before: str, after: str, old: str, new: str) -> str:
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        paths = [os.path.join(folder, "before"), os.path.join(folder, "after")]
        for path, text in zip(paths, (before, after)):
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        done = subprocess.run(["diff", "-u", "--label", old, "--label", new, *paths], capture_output=True)
    if done.returncode > 1:  # 0 same, 1 different, 2 trouble: difflib then
        return _difflib(before, after, old, new)
    return done.stdout.decode("utf-8")
