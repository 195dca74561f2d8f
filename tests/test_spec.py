"""Loading and checking specs: YAML semantics, effective settings, expressions, the JSON Schema."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from conftest import EXAMPLES, ROOT, example_path
from water import expressions
from water import pipeline as pipeline_mod
from water.errors import SpecError
from water.spec import yamlmarks

MINIMAL = """apiVersion: water/v1
kind: Pipeline
metadata: {name: tiny}
spec:
  image: registry.example.com/tiny:1.0.0
  steps:
    - name: only
      container: {command: [echo, hi]}
"""


def _load(text, tmp_path):
    (tmp_path / "water.yaml").write_text(text)
    return pipeline_mod.load(str(tmp_path))


# --- YAML ---------------------------------------------------------------------------------------------------------

def test_yaml_reads_kubernetes_style_scalars_not_yaml_1_1_surprises():
    data = yamlmarks.load("on: [failure]\nnorway: no\ntime: 1:30\nday: 2024-01-01\noctal: 010\nflag: true\n", "f")
    assert data == {"on": ["failure"], "norway": "no", "time": "1:30", "day": "2024-01-01", "octal": 10, "flag": True}


def test_explicit_core_tags_read_as_yaml_1_2_and_others_are_located_problems():
    data = yamlmarks.load("a: !!int 0x1F\nb: !!int 0o17\nc: !!str 5\nd: !!float 1\ne: !!int -010\n", "f")
    assert data == {"a": 31, "b": 15, "c": "5", "d": 1.0, "e": -10}
    with pytest.raises(SpecError) as err:
        yamlmarks.load("a: !!int x\nb: !!map y\nc: !!binary aGk=\nd: !!str [1]\n", "f")
    assert [str(p) for p in err.value.problems] == [
        "f:1:4: 'x' is not a valid !!int value", "f:2:4: !!map on a scalar: it needs a mapping",
        "f:3:4: the tag !!binary is not read here (YAML 1.2 core: !!str, !!int, !!float, !!bool, !!null, !!seq, !!map)",
        "f:4:4: !!str on a sequence: it needs a scalar"]


def test_yaml_remembers_where_keys_values_and_items_stood():
    data = yamlmarks.load("a:\n  b: [x, 'y']\n  c: |\n    text\n", "f")
    assert data["a"].key_marks["b"] == (2, 3)
    assert data["a"]["b"].item_marks == [(2, 7), (2, 11)]  # a quoted item's text starts after its quote
    assert data["a"].value_marks["c"] == (4, 5)  # block text: the line after the indicator, indented


def test_an_expression_in_a_block_of_sql_is_located_exactly(tmp_path):
    text = MINIMAL + "    - name: q\n      athena:\n        database: d\n        output: s3://bucket/x/\n" \
                     "        query: |\n          SELECT 1\n          FROM t WHERE x = {{params.nope}}\n"
    with pytest.raises(SpecError) as err:
        _load(text, tmp_path)
    assert str(err.value).split("water.yaml:")[1].startswith("15:28: spec.steps[1].athena.query: unknown parameter")


def test_yaml_duplicate_keys_are_errors_not_overrides():
    with pytest.raises(SpecError) as err:
        yamlmarks.load("a: 1\nb: 2\na: 3\n", "w.yaml")
    assert str(err.value) == "w.yaml:3:1: a: duplicate key (first at line 1)"


def test_yaml_anchors_and_merge_keys_still_work(tmp_path):
    text = MINIMAL.replace("  steps:\n", "  defaults: &d {retries: 4}\n  steps:\n").replace(
        "    - name: only\n", "    - name: only\n      <<: *d\n")
    assert _load(text, tmp_path).steps[0].retries == 4


# --- effective settings --------------------------------------------------------------------------------------------

def test_steps_take_defaults_then_built_ins_field_by_field(tmp_path):
    text = MINIMAL.replace("  steps:\n", "  defaults: {retries: 5, resources: {cpu: '2'}}\n  steps:\n")
    text += "    - name: second\n      resources: {memory: 3Gi}\n      retries: 0\n      timeout: 90s\n" \
            "      container: {command: [echo]}\n"
    first, second = _load(text, tmp_path).steps
    assert (first.retries, first.timeout, first.resources) == (5, 6 * 3600, {"cpu": "2", "memory": "1Gi"})
    assert (second.retries, second.timeout, second.resources) == (0, 90, {"cpu": "2", "memory": "3Gi"})


def test_train_max_runtime_defaults_to_the_step_timeout():
    p = pipeline_mod.load(example_path("demo"))
    assert p.step("train").job_config()["maxRuntime"] == 20 * 60
    assert p.step("train").timeout == 30 * 60


def test_glue_output_defaults_to_its_output_argument():
    p = pipeline_mod.load(example_path("babyweight"))
    features = p.step("features")
    assert features.outputs == ("output", "bytes")
    assert features.job_config()["output"] == "s3://ml-bucket/babyweight/{{run.id}}/features/"


def test_the_design_example_loads_as_written():
    p = pipeline_mod.load(example_path("babyweight"))
    assert [s.name for s in p.steps] == ["extract", "features", "train", "predict", "publish"]
    assert p.spec.alerts.slack.on == ["failure"]  # `on:` is a key, not YAML 1.1's True
    assert p.upstream["publish"] == {"extract", "features", "train", "predict"}
    assert p.step("extract").prepared.files["query"][0] == "sql/extract.sql"


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_validates(name):
    assert pipeline_mod.load(example_path(name)).steps


def test_every_problem_is_reported_at_once_sorted_by_line(tmp_path):
    text = MINIMAL.replace("name: tiny", "name: Tiny").replace("command: [echo, hi]", "command: hi")
    with pytest.raises(SpecError) as err:
        _load(text, tmp_path)
    lines = str(err.value).splitlines()
    assert [line.split(":")[1] for line in lines] == ["3", "8"]
    assert "metadata.name" in lines[0] and "spec.steps[0].container.command: expected a list" in lines[1]


def test_a_deep_chain_of_steps_does_not_hit_recursion_limits(tmp_path):
    steps = "".join(f"    - {{name: s{i}, after: [s{i - 1}], container: {{command: [echo]}}}}\n" for i in range(1, 3000))
    text = MINIMAL.replace("    - name: only\n      container: {command: [echo, hi]}\n",
                           "    - {name: s0, container: {command: [echo]}}\n" + steps)
    p = _load(text, tmp_path)
    assert len(p.upstream["s2999"]) == 2999


# --- expressions ---------------------------------------------------------------------------------------------------

def test_expressions_parse_into_literals_and_references():
    parts = expressions.parse("s3://b/{{ run.id }}/{{params.limit}}/{{steps.a-b.model}}{{ '{{' }}")
    assert parts == ["s3://b/", expressions.Ref("run", "id"), "/", expressions.Ref("params", "limit"), "/",
                     expressions.Ref("steps", "a-b", "model"), "{{"]


@pytest.mark.parametrize("ref, argo", [
    (expressions.Ref("run", "id"), "{{workflow.name}}"),
    (expressions.Ref("params", "limit"), "{{workflow.parameters.limit}}"),
    (expressions.Ref("steps", "train", "model"), "{{tasks.train.outputs.parameters.model}}"),
])
def test_references_compile_to_argo_variables(ref, argo):
    assert expressions.to_argo(ref) == argo


def test_run_date_is_never_left_to_argo():
    """Argo's only dates are the creation's, in UTC: the step's pod works out the scheduled date in the zone."""
    with pytest.raises(ValueError):
        expressions.to_argo(expressions.Ref("run", "date"))


@pytest.mark.parametrize("text, offset, message", [
    ("x {{workflow.name}}", 2, "unknown expression '{{workflow.name}}'"),
    ("{{steps.a.Weights}}", 0, "unknown expression '{{steps.a.Weights}}'"),
    ("abc {{ run.id", 4, "'{{' is not closed"),
])
def test_bad_expressions_say_where_and_why(text, offset, message):
    with pytest.raises(expressions.ExpressionError) as err:
        expressions.parse(text)
    assert err.value.offset == offset and message in str(err.value)


def test_which_outputs_a_step_has_is_its_kinds_to_say():
    """The expression language takes any output name; the pipeline checks it against the step's kind."""
    assert expressions.refs("{{steps.a.weights}}") == [expressions.Ref("steps", "a", "weights")]


def test_substitute_resolves_references_at_run_time():
    assert expressions.substitute("s3://b/{{run.id}}/{{steps.x.output}}", {
        "run.id": "r-1", "steps.x.output": "s3://o/"}) == "s3://b/r-1/s3://o/"


# --- JSON Schema ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def water_validator():
    from jsonschema import Draft202012Validator

    from water.schema import water_schema

    schema = water_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _raw(path):
    with open(path) as f:
        return json.loads(json.dumps(yamlmarks.load(f.read(), path)))


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_generated_json_schema_accepts_every_example(name, water_validator):
    errors = [e.message for e in water_validator.iter_errors(_raw(example_path(name) + "/water.yaml"))]
    assert errors == []


def test_the_generated_json_schema_rejects_what_the_validator_rejects(water_validator, tmp_path):
    doc = _raw(example_path("babyweight") + "/water.yaml")
    doc["spec"]["steps"][0]["athena"]["databse"] = doc["spec"]["steps"][0]["athena"].pop("database")
    doc["spec"]["schedule"]["concurrency"] = "forbid"
    doc["spec"]["steps"][4]["glue"] = {"job": "x"}  # two kinds in one step
    messages = " | ".join(e.message for e in water_validator.iter_errors(doc))
    assert "databse" in messages and "'forbid' is not one of" in messages and "is valid under each of" in messages


def test_every_field_in_the_schema_is_documented():
    from water.schema import water_schema

    for name, definition in water_schema()["$defs"].items():
        assert definition["description"], name
        for key, prop in definition["properties"].items():
            assert prop.get("description"), f"{name}.{key}"


# --- the fast loader agrees with the marked one ------------------------------------------------------------------

def _spec_files():
    import glob

    from conftest import ROOT

    return sorted(glob.glob(f"{ROOT}/pipelines/*/water.yaml") + glob.glob(f"{ROOT}/tests/malformed/*.yaml"))


def test_the_fast_loader_gives_the_marked_loaders_data_for_every_spec_here():
    from water.spec import fastyaml

    compared = 0
    for path in _spec_files():
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", errors="replace")  # one corpus file is not UTF-8
        try:
            marked = json.loads(json.dumps(yamlmarks.load(text, path)))
        except SpecError:
            continue  # YAML the marked loader rejects: the fast path's answer is never used alone
        fast = fastyaml.load(text)
        if fast is not None:
            assert fast == marked, path
            compared += 1
    assert compared >= 70


@pytest.mark.parametrize("text", [
    "a: !!str 10\n",  # explicit tags
    "a: 1\n---\nb: 2\n",  # several documents
    "a: 1\na: 2\n",  # duplicate key
    "a: [1\n",  # syntax error
    "",  # no document
    "# a comment\n",  # no document
    "a: &x {b: [1, *x]}\n",  # an alias inside its own anchor: rapidyaml's resolve would never end
    "a: *nope\n",  # an alias without an anchor
    "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(  # a billion values if resolved
        f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi")),
])
def test_the_fast_loader_leaves_unusual_yaml_to_the_marked_one(text):
    from water.spec import fastyaml

    assert fastyaml.load(text) is None


def test_the_fast_loader_reads_yaml_1_2_scalars_merges_and_blocks_like_the_marked_one():
    from water.spec import fastyaml

    text = ("base: &b {x: 1, on: yes}\nuse:\n  <<: *b\n  y: '10'\nn: null\nf: 1.5e3\nno: no\nt: 1:30\n"
            "q: \"true\"\nblock: |\n  SELECT 1\n  FROM t\nfolded: >\n  a\n  b\nempty:\n")
    assert fastyaml.load(text) == json.loads(json.dumps(yamlmarks.load(text, "f")))


def test_problems_found_after_the_fast_path_are_still_located(tmp_path):
    # Valid YAML, invalid spec: the fast loader reads it, the checks fail, and the error carries its line.
    text = MINIMAL.replace("command: [echo, hi]", "command: [echo, '{{params.nope}}']")
    with pytest.raises(SpecError) as err:
        _load(text, tmp_path)
    assert str(err.value).endswith("water.yaml:8:36: spec.steps[0].container.command[1]: unknown parameter 'nope' "
                                   "(declare it under spec.params)")


@pytest.mark.parametrize("text", [
    "a: 010\n", "a: True\n", "a: ~\n", "a: .inf\n", "a: [1, -0.5e3, 007]\n", "a: \"ctl\\u0001\"\n",
])
def test_scalars_json_cannot_carry_go_to_the_marked_loader(text):
    from water.spec import fastyaml

    assert fastyaml.load(text) is None
    assert yamlmarks.load(text, "f")  # and it reads them by YAML 1.2 core rules


def test_the_fast_loader_agrees_with_the_marked_one_on_thousands_of_odd_scalars():
    # Scalars near YAML 1.2's implicit types, plain, quoted and in lists: wherever the fast loader answers,
    # it answers what the marked loader reads; where it cannot tell, it leaves the text to the marked one.
    import random

    from water.spec import fastyaml

    rng = random.Random(7)
    pieces = ["0", "1", "7", "-", "+", ".", "e", "E", "x", "o", "_", ":", "inf", "nan", "NaN", "True", "true",
              "FALSE", "null", "Null", "~", "yes", "on", " ", "a", "!", "#", "'"]
    answered = 0
    for i in range(3000):
        scalar = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 4)))
        written = rng.choice([scalar, f"'{scalar.replace(chr(39), chr(39) * 2)}'", f"[{scalar}, x]"])
        text = f"k: {written}\n"
        try:
            marked = json.loads(json.dumps(yamlmarks.load(text, "f")))
        except SpecError:
            continue
        fast = fastyaml.load(text)
        if fast is not None:
            assert fast == marked, text
            answered += 1
    assert answered > 1000


def test_the_fast_loader_keeps_escapes_quotes_and_unicode():
    from water.spec import fastyaml

    text = ("a: 'back\\\\slash and ''quote'''\nb: \"tab\\tnew\\nline \\\"q\\\"\"\nc: héllo ✓ {{run.id}}\n"
            "d: [1, 2.5, -3, 1., .5, true, null]\ne: 'x: y # z'\n")
    assert fastyaml.load(text) == json.loads(json.dumps(yamlmarks.load(text, "f")))


@pytest.mark.parametrize("cron, valid", [
    ("0 3 * * *", True), ("*/15 9-17 * * MON-FRI", True), ("0 0 1,15 * *", True), ("30 2 ? JAN,jul sun", True),
    ("5-55/10 * * * *", True), ("0 0 L * *", False), ("0 0 * * 7", False), ("0 24 * * *", False),
    ("60 * * * *", False), ("0 0 0 * *", False), ("0 0 * 13 *", False), ("*/0 * * * *", False),
    ("5-1 * * * *", False), ("0 0 * * MON#1", False), ("0 0 * * * *", False), ("0 0 * *", False),
    ("a * * * *", False), ("1- * * * *", False), ("-1 * * * *", False), ("0 0 1W * *", False),
])
def test_cron_expressions_are_checked_as_the_clusters_controllers_read_them(cron, valid):
    from water.spec.types import cron_is_valid

    assert cron_is_valid(cron) is valid


@pytest.mark.parametrize("field, line", [
    ("name: babyweight", 'name: "babyweight\\n"'),
    ("namespace: ml ", 'namespace: "ml\\n" '),
    ("serviceAccount: water-runner", 'serviceAccount: "water-runner\\n"'),
    ("    - name: extract", '    - name: "extract\\n"'),
    ("database: lake", 'database: "lake\\n"'),
    ("job: babyweight-features", 'job: "babyweight-features\\n"'),
    ('params: {limit: "100000"}', 'params: {"limit\\n": "100000"}'),
    ("labels: {team: ml}", 'labels: {"team\\n": ml}'),
])
def test_a_name_with_a_trailing_newline_is_refused_on_one_line(field, line, tmp_path):
    text = open(os.path.join(ROOT, "pipelines", "babyweight", "water.yaml")).read()
    assert field in text
    shutil.copytree(os.path.join(ROOT, "pipelines", "babyweight"), tmp_path / "p")
    (tmp_path / "p" / "water.yaml").write_text(text.replace(field, line, 1))
    with pytest.raises(SpecError) as err:
        pipeline_mod.load(str(tmp_path / "p"))
    assert all("\n" not in str(p) for p in err.value.problems) and "\\n" in str(err.value)
