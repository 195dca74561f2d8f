"""The JSON Schema of water.yaml, generated from the models the validator parses with."""
from __future__ import annotations

import json

from water.spec.fields import json_schema
from water.spec.model import PipelineDoc


def water_schema() -> dict:
    return json_schema(PipelineDoc, "water pipeline (water.yaml)")


def water_schema_json() -> str:
    return json.dumps(water_schema(), indent=2, sort_keys=False) + "\n"
