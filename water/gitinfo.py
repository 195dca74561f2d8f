"""What git says about the project a spec lives in (nothing when it is not a repository or git is missing)."""
from __future__ import annotations

import subprocess


def _git(project_dir: str, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", project_dir, *args], capture_output=True, text=True, timeout=10,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def commit(project_dir: str) -> str | None:
    return _git(project_dir, "rev-parse", "HEAD")


def describe(project_dir: str) -> dict:
    """{commit, branch, dirty} for a revision record; empty when not in a repository."""
    head = commit(project_dir)
    if head is None:
        return {}
    status = _git(project_dir, "status", "--porcelain", "--untracked-files=no", "--", ".")
    return {"commit": head, "branch": _git(project_dir, "rev-parse", "--abbrev-ref", "HEAD") or "",
            "dirty": bool(status)}
