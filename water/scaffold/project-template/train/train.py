"""SageMaker script-mode training (SM_CHANNEL_TRAIN in, SM_MODEL_DIR out) and the inference
handler batch transform uses (model_fn, input_fn, predict_fn). Replace the model with yours."""
import argparse
import csv
import glob
import io
import json
import os


def read_rows(folder):
    rows = []
    for path in sorted(glob.glob(os.path.join(folder, "*.csv"))):
        with open(path, newline="") as f:
            rows += list(csv.DictReader(f))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n_estimators", type=int, default=100)
    args, _ = parser.parse_known_args()
    rows = read_rows(os.environ.get("SM_CHANNEL_TRAIN", "data/train"))
    popularity = {r["item_id"]: int(r["item_popularity"]) for r in rows}
    with open(os.path.join(os.environ.get("SM_MODEL_DIR", "model"), "model.json"), "w") as f:
        json.dump({"n_estimators": args.n_estimators, "popularity": popularity}, f, sort_keys=True)
    with open(os.path.join(os.environ.get("SM_OUTPUT_DATA_DIR", "."), "metrics.json"), "w") as f:
        json.dump({"items": len(popularity)}, f)


def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        return json.load(f)


def input_fn(body, content_type):
    return list(csv.DictReader(io.StringIO(body.decode())))


def predict_fn(rows, model):
    """A score per row: how popular its item is."""
    return [f"{r['user_id']},{r['item_id']},{model['popularity'].get(r['item_id'], 0)}" for r in rows]


if __name__ == "__main__":
    main()
