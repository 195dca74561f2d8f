"""Every value of every example spec, replaced in turn by values of the wrong type, shape or size: water either
renders the result or answers with located problems; nothing else escapes (no traceback for any input)."""
from __future__ import annotations

import copy
import os

import pytest
import yaml
from conftest import EXAMPLES, example_path

from water import pipeline, render
from water.errors import WaterError

ODD = [None, -1, 10**30, "", "x" * 300, [], {}, True, 1.5, "{{", "{{ params.x }}", "s3://", [None], {"a": None}]


def _paths(node, prefix=()):
    yield prefix
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield from _paths(value, prefix + (key,))


def _replaced(data, path, value):
    data = copy.deepcopy(data)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize("example", EXAMPLES)
def test_no_odd_value_anywhere_in_a_spec_escapes_as_anything_but_a_located_problem(example):
    folder = example_path(example)
    file = os.path.join(folder, "water.yaml")
    with open(file, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    escaped, tried = [], 0
    for path in list(_paths(data))[1:]:
        for value in ODD:
            text = yaml.safe_dump(_replaced(data, path, value), sort_keys=False)
            tried += 1
            try:
                render.render(pipeline.load_text(text, file, folder), None)
            except WaterError:
                continue
            except Exception as exc:  # noqa: BLE001 - what the test looks for
                escaped.append(f"{'.'.join(map(str, path))} = {value!r}: {type(exc).__name__}: {exc}")
    assert tried > 500
    assert not escaped, "\n".join(escaped[:10])
