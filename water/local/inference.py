"""Batch transform on this machine, in its own process: SageMaker's inference handler
convention applied to every file under an input folder.

    python -m water.local.inference SCRIPT MODEL_DIR INPUT_DIR OUTPUT_DIR CONTENT_TYPE

SCRIPT may define model_fn(model_dir) (required), input_fn(body, content_type),
predict_fn(data, model) and output_fn(prediction, accept). Without input_fn, CSV is
read with pandas (header row kept); without predict_fn, model.predict(data); without
output_fn, one prediction per line. Each input file F gives OUTPUT_DIR/F.out.
"""
from __future__ import annotations

import importlib.util
import io
import os
import sys


def _load(script: str):
    spec = importlib.util.spec_from_file_location("inference_entry", script)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{script} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    spec.loader.exec_module(module)
    if not hasattr(module, "model_fn"):
        raise SystemExit(f"{script} has no model_fn(model_dir): batch transform cannot load the model")
    return module


def _default_input(body: bytes, content_type: str):
    if content_type != "text/csv":
        raise SystemExit(f"no input_fn in the script, and no default reader for {content_type}")
    import pandas

    return pandas.read_csv(io.BytesIO(body))


def main(argv: list) -> None:
    script, model_dir, input_dir, output_dir, content_type = argv
    handler = _load(script)
    model = handler.model_fn(model_dir)
    read = getattr(handler, "input_fn", _default_input)
    predict = getattr(handler, "predict_fn", lambda data, m: m.predict(data))
    write = getattr(handler, "output_fn", lambda prediction, accept: "".join(f"{p}\n" for p in prediction))
    files = sorted(os.path.relpath(os.path.join(root, f), input_dir)
                   for root, _, names in os.walk(input_dir) for f in names)
    for rel in files:
        with open(os.path.join(input_dir, rel), "rb") as f:
            prediction = predict(read(f.read(), content_type), model)
        target = os.path.join(output_dir, rel + ".out")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        result = write(prediction, content_type)
        with open(target, "wb") as out:
            out.write(result.encode() if isinstance(result, str) else result)
        print(f"{rel}: {len(prediction)} predictions")


if __name__ == "__main__":
    main(sys.argv[1:])
