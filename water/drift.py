"""Live against wanted: the live object cut to the fields water writes, and the diff between the two."""
from __future__ import annotations

import difflib
from typing import Any


def project(live: Any, wanted: Any) -> Any:
    """`live` cut to the fields `wanted` has: server defaults and status are not water's to diff."""
    if isinstance(live, dict) and isinstance(wanted, dict):
        return {k: project(live[k], v) for k, v in wanted.items() if k in live}
    if isinstance(live, list) and isinstance(wanted, list) and len(live) == len(wanted):
        return [project(a, b) for a, b in zip(live, wanted)]
    return live


def unified_diff(name: str, before: str, after: str, *, source: str) -> str:
    """`before` (from `source`/name) against `after` (water/name), as `diff -u` shows them."""
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), f"{source}/{name}",
                                        f"water/{name}"))
