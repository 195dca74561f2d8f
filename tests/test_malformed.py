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


def test_a_renamed_step_shows_every_place_that_still_names_it(runner, tmp_path):
    """All problems at once: the `after` that names the old step and the expression that reads its output, in
    one run of validate."""
    text = open(os.path.join(CORPUS, "after-unknown-step.yaml")).read().split("\n", 1)[1]
    (tmp_path / "water.yaml").write_text(text.replace("after: [extrct]", "after: [extract]").replace(
        "- name: extract", "- name: extracted"))
    result = runner.invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert [line.split(": ", 1)[1] for line in result.stderr.splitlines()] == [
        "spec.steps[1].after[0]: unknown step 'extract' (did you mean 'extracted'?)",
        "spec.steps[1].glue.arguments.--input: unknown step 'extract' (did you mean 'extracted'?)"]


def test_a_problem_in_a_sql_file_is_placed_in_that_file_at_its_expression(runner, tmp_path):
    text = open(os.path.join(CORPUS, "after-unknown-step.yaml")).read().split("\n", 1)[1]
    (tmp_path / "water.yaml").write_text(text.replace("after: [extrct]", "after: [extract]").replace(
        "query: SELECT * FROM t LIMIT {{params.limit}}", "query: sql/extract.sql"))
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "extract.sql").write_text("-- the rows, at most {{params.limit}}\n"
                                                  "SELECT * FROM t\nWHERE day = {{run.date}} LIMIT {{params.limt}}\n")
    result = runner.invoke(cli, ["validate", str(tmp_path)])
    assert result.stderr.splitlines() == [f"{tmp_path}/sql/extract.sql:3:32: spec.steps[0].athena.query: unknown "
                                          "parameter 'limt' (did you mean 'limit'?)"]


def test_validate_finds_a_local_table_that_is_not_there(runner, tmp_path):
    text = open(os.path.join(CORPUS, "after-unknown-step.yaml")).read().split("\n", 1)[1]
    (tmp_path / "water.yaml").write_text(text.replace("after: [extrct]", "after: [extract]").replace(
        "  steps:\n", "  local:\n    tables: {lake.t: data/event.csv}\n  steps:\n", 1))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "events.csv").write_text("a\n1\n")
    for command in (["validate"], ["run", "--local"]):
        result = runner.invoke(cli, [*command, str(tmp_path)])
        assert result.exit_code == 2
        assert result.stderr.splitlines() == [f"{tmp_path}/water.yaml:12:22: spec.local.tables.lake.t: "
                                              "'data/event.csv' is not in the project (did you mean 'data/events.csv'?)"]
