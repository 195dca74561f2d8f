"""SageMaker script-mode training: a seeded random forest on the wine features."""
import argparse
import glob
import json
import os
import pickle

import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score


def read(channel):
    files = sorted(glob.glob(os.path.join(os.environ[f"SM_CHANNEL_{channel.upper()}"], "*.csv")))
    frame = pd.concat(pd.read_csv(f) for f in files)
    return frame.drop(columns=["sample_id", "target"]), frame["target"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n_estimators", type=int, default=50)
    parser.add_argument("--max_depth", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    args, _ = parser.parse_known_args()
    x_train, y_train = read("train")
    x_test, y_test = read("test")
    model = RandomForestClassifier(n_estimators=args.n_estimators, max_depth=args.max_depth, random_state=args.seed)
    model.fit(x_train, y_train)
    accuracy = accuracy_score(y_test, model.predict(x_test))
    print(f"test accuracy: {accuracy:.4f}")
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.pkl"), "wb") as f:
        pickle.dump(model, f)
    with open(os.path.join(os.environ.get("SM_OUTPUT_DATA_DIR", os.environ["SM_MODEL_DIR"]), "metrics.json"), "w") as f:
        json.dump({"accuracy": accuracy}, f)


def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.pkl"), "rb") as f:
        return pickle.load(f)


def predict_fn(data, model):
    return model.predict(data.drop(columns=[c for c in ("sample_id", "target") if c in data]))


if __name__ == "__main__":
    main()
