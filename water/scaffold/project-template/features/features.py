"""Glue job script: interaction counts → features (user activity, item popularity).

Glue passes `--input` and `--output` as in water.yaml."""
import argparse
import csv
import glob
import os
from collections import Counter


def build(rows):
    """Add per-user activity and per-item popularity to each interaction."""
    user_activity = Counter(r["user_id"] for r in rows)
    item_popularity = Counter(r["item_id"] for r in rows)
    return [{**r, "user_activity": user_activity[r["user_id"]], "item_popularity": item_popularity[r["item_id"]]}
            for r in rows]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    args, _ = parser.parse_known_args(argv)
    rows = []
    for path in sorted(glob.glob(os.path.join(args.input, "*.csv"))):
        with open(path, newline="") as f:
            rows += list(csv.DictReader(f))
    features = build(rows)
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "features.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(features[0]) if features else ["user_id"])
        writer.writeheader()
        writer.writerows(features)


if __name__ == "__main__":
    main()
