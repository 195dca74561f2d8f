"""The architecture as CI holds it: import contracts (setup.cfg's [importlinter], checked by import-linter's
own engine), and step kinds named only in their own modules."""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from water.steps import KINDS


def test_the_import_contracts_hold():
    lint = shutil.which("lint-imports", path=os.path.dirname(sys.executable))
    assert lint, "import-linter is not installed: run installer/install.sh --test"
    done = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Contracts: 5 kept, 0 broken." in done.stdout


def test_a_contract_that_is_broken_fails(tmp_path):
    """The same engine on a contract the code breaks: the check above can fail."""
    lint = shutil.which("lint-imports", path=os.path.dirname(sys.executable))
    (tmp_path / "contracts.ini").write_text(
        "[importlinter]\nroot_package = water\n\n[importlinter:contract:broken]\nname = pipeline without kinds\n"
        "type = forbidden\nsource_modules =\n    water.pipeline\nforbidden_modules =\n    water.steps\n")
    done = subprocess.run([lint, "--config", str(tmp_path / "contracts.ini")], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode != 0 and "water.pipeline -> water.steps" in done.stdout


# modules that used to name kinds: they ask the kind now (render/argo.py writes Argo's own `container` field)
ASKING = ["water/checks.py", "water/pipeline.py", "water/expressions.py", "water/render/images.py",
          "water/render/cronjob.py", "water/runtime/main.py", "water/runtime/cleanup.py", "water/local/runner.py",
          "water/sizing.py", "water/spec/model.py"]


@pytest.mark.parametrize("path", ASKING)
def test_no_kind_is_named_outside_its_module(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    named = [(node.lineno, node.value) for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and node.value in KINDS]
    assert named == []


def test_the_type_check_passes():
    """mypy over water/ as setup.cfg's [mypy] says (what the editor's type checker would tell a contributor)."""
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Success: no issues found" in done.stdout


def unannotated_public_functions(root: str) -> list:
    """Public functions and methods of the modules under `root` (not nested, not `_private`, not of a `_private`
    class) whose parameters or return lack annotations: the ones other modules call."""
    found = []
    for folder, _, files in os.walk(root):
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read())
            for scope in [tree, *(c for c in tree.body if isinstance(c, ast.ClassDef) and not c.name.startswith("_"))]:
                for fn in (n for n in scope.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
                    if fn.name.startswith("_") and fn.name != "__init__":
                        continue
                    a = fn.args
                    params = [p for p in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg]
                              if p is not None and p.arg not in ("self", "cls")]
                    if any(p.annotation is None for p in params) or (fn.returns is None and fn.name != "__init__"):
                        found.append(f"{os.path.relpath(path, ROOT)}:{fn.lineno} {fn.name}")
    return found


def test_public_functions_are_annotated():
    """The project template `water new` copies is the user's code, not water's."""
    missing = [f for f in unannotated_public_functions(os.path.join(ROOT, "water"))
               if not f.startswith(os.path.join("water", "scaffold", "project-template"))]
    assert missing == []


def test_an_unannotated_public_function_is_found(tmp_path):
    (tmp_path / "m.py").write_text("def typed(a: int) -> int:\n    return a\n\n\ndef untyped(a):\n    return a\n\n\n"
                                   "def _private(a):\n    return a\n")
    assert [f.rsplit(" ", 1)[1] for f in unannotated_public_functions(str(tmp_path))] == ["untyped"]
