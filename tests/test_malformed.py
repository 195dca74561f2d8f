"""The malformed-spec corpus: each file carries the exact line `water validate` must print for it
(`# expect: FILE:LINE:COL: field: problem`), exits 2, and never shows a traceback."""
from __future__ import annotations

import os
import subprocess

import pytest

from water.cli import cli

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "malformed")
CASES = sorted(f for f in os.listdir(CORPUS) if f.endswith(".yaml"))


def _expected(name: str) -> str:
    with open(os.path.join(CORPUS, name), "rb") as f:  # the first line is ASCII, the rest may not be UTF-8
        first = f.readline().decode()
    assert first.startswith("# expect: "), f"{name} has no '# expect:' line"
    return first[len("# expect: "):].rstrip("\n")


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", CASES)
def test_malformed_spec_gives_its_exact_error_line(name, runner, monkeypatch):
    monkeypatch.chdir(CORPUS)
    result = runner.invoke(cli, ["validate", name])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert _expected(name) in lines, "\n".join(lines)
    assert all(line.startswith((f"{name}:", "sql/")) for line in lines)  # every line is a located problem


@pytest.mark.parametrize("name", ["yaml-tab-indent.yaml", "yaml-unclosed-bracket.yaml", "cycle.yaml",
                                  "sql-file-bad-expression.yaml", "not-utf8.yaml", "empty.yaml",
                                  "yaml-recursive-alias.yaml", "yaml-undefined-alias.yaml", "yaml-alias-bomb.yaml"])
def test_the_real_command_prints_one_line_per_problem_without_traceback(name, water_bin):
    done = subprocess.run([water_bin, "validate", name], cwd=CORPUS, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert _expected(name) in lines
    assert all(line.startswith((f"{name}:", "sql/")) for line in lines), lines  # nothing but located problems


def test_render_refuses_a_malformed_spec_and_writes_nothing(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(CORPUS)
    out = tmp_path / "out"
    result = runner.invoke(cli, ["render", "cycle.yaml", "--out", str(out)])
    assert result.exit_code == 2
    assert _expected("cycle.yaml") in result.stderr.splitlines()
    assert not out.exists()
