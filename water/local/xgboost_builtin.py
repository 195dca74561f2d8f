"""SageMaker's built-in XGBoost algorithm on this machine, for a local train step whose image is it (`xgboost:1.7-1`,
no `entry`): the hyperparameters, channels, log lines and model file of sagemaker-xgboost-container's algorithm mode
(algorithm_mode/train.py: `num_round` and the rest as xgboost's params, the `train` and `validation` channels
watched, the model saved as `xgboost-model` in the model folder; data_utils.py: CSV with the label in the first
column and no header, its delimiter sniffed, or libsvm, SageMaker's default). Also the inference handler of such a
model for local transform and serve (water.local.inference): CSV rows without a label, one prediction per line.

Run by the xgboost package (`pip install xgboost-cpu`), needed only by such steps. Its version is not the
container's (1.7 for xgboost:1.7-1): the same algorithm and parameters, a model file for local use."""
from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
from typing import Any

MODEL_NAME = "xgboost-model"  # sagemaker_xgboost_container/constants/xgb_constants.py


def _xgboost():
    try:
        import xgboost
    except ImportError:
        raise SystemExit("SageMaker's built-in XGBoost runs locally with the xgboost package: pip install "
                         "xgboost-cpu") from None
    return xgboost


def _is_csv(content_type: str) -> bool:
    return "csv" in content_type.lower()


def _rows(text: bytes, labelled: bool):
    """A CSV body as (features, labels or None), as data_utils.py reads it: no header, the label first."""
    import numpy

    first = text.split(b"\n", 1)[0].decode()
    delimiter = csv.Sniffer().sniff(first, delimiters=",\t; |").delimiter if first else ","
    rows = numpy.loadtxt(io.BytesIO(text), delimiter=delimiter, ndmin=2)
    return (rows[:, 1:], rows[:, 0]) if labelled else (rows, None)


def _channel(folder: str, content_type: str):
    """The DMatrix of every file under a channel's folder."""
    xgb = _xgboost()
    files = sorted(os.path.join(root, name) for root, _, names in os.walk(folder) for name in names)
    text = b"".join(open(path, "rb").read().rstrip(b"\n") + b"\n" for path in files)
    if _is_csv(content_type):
        features, labels = _rows(text, labelled=True)
        return xgb.DMatrix(features, label=labels)
    with tempfile.NamedTemporaryFile(suffix=".libsvm") as f:
        f.write(text)
        f.flush()
        return xgb.DMatrix(f"{f.name}?format=libsvm")


def _value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def train(env: dict) -> None:
    """The training job: SM_HPS, SM_CHANNEL_TRAIN (and _VALIDATION), SM_MODEL_DIR, WATER_CONTENT_TYPE."""
    xgb = _xgboost()
    params = {k: _value(str(v)) for k, v in json.loads(env.get("SM_HPS") or "{}").items()}
    if "num_round" not in params:
        raise SystemExit("hyperparameter num_round is required (SageMaker's XGBoost refuses a job without it)")
    rounds = int(params.pop("num_round"))
    if "SM_CHANNEL_TRAIN" not in env:
        raise SystemExit("SageMaker's XGBoost trains on the channel named train: name one in train.inputs")
    content_type = env.get("WATER_CONTENT_TYPE") or "libsvm"
    watched = [(_channel(env["SM_CHANNEL_TRAIN"], content_type), "train")]
    if env.get("SM_CHANNEL_VALIDATION"):
        watched.append((_channel(env["SM_CHANNEL_VALIDATION"], content_type), "validation"))
    booster = xgb.train(params, watched[0][0], num_boost_round=rounds, evals=watched)  # logs [i]\ttrain-rmse:...
    booster.save_model(os.path.join(env["SM_MODEL_DIR"], MODEL_NAME))


# the inference handler (water.local.inference's convention), as the container's serve_utils answers text/csv

def model_fn(model_dir: str) -> Any:
    booster = _xgboost().Booster()
    booster.load_model(os.path.join(model_dir, MODEL_NAME))
    return booster


def input_fn(body: bytes, content_type: str) -> Any:
    if not _is_csv(content_type):
        raise ValueError(f"SageMaker's XGBoost answers text/csv here, not {content_type}")
    features, _ = _rows(body, labelled=False)
    return _xgboost().DMatrix(features)


def predict_fn(data: Any, model: Any) -> Any:
    return model.predict(data)


def output_fn(prediction: Any, accept: str) -> str:
    return "".join((",".join(f"{v:g}" for v in row) if getattr(row, "ndim", 0) else f"{row:g}") + "\n"
                   for row in prediction)


if __name__ == "__main__":
    train(dict(os.environ))
    sys.exit(0)
