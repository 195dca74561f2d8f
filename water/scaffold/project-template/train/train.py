"""SageMaker script-mode training: reads SM_CHANNEL_TRAIN, writes the model to SM_MODEL_DIR."""
import argparse
import glob
import json
import os


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n_estimators", type=int, default=100)
    args, _ = parser.parse_known_args()
    train_dir = os.environ.get("SM_CHANNEL_TRAIN", "data/train")
    model_dir = os.environ.get("SM_MODEL_DIR", "model")
    files = sorted(glob.glob(os.path.join(train_dir, "*.csv")))
    # Replace with your model; this one ranks items by popularity.
    popularity = {}
    for path in files:
        with open(path) as f:
            header = f.readline().strip().split(",")
            for line in f:
                row = dict(zip(header, line.strip().split(",")))
                popularity[row["item_id"]] = int(row.get("item_popularity", 0))
    os.makedirs(model_dir, exist_ok=True)
    with open(os.path.join(model_dir, "model.json"), "w") as f:
        json.dump({"n_estimators": args.n_estimators, "popularity": popularity}, f)


if __name__ == "__main__":
    main()
