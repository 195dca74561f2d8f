"""Glue-style script: standardize the wine measurements and split train/test by sample id."""
import argparse
import csv
import glob
import os
import statistics


def split_rows(rows):
    """Every fifth sample (by id) is held out for testing: the same split on every run."""
    train = [r for r in rows if int(r["sample_id"]) % 5]
    test = [r for r in rows if not int(r["sample_id"]) % 5]
    return train, test


def standardize(rows, columns):
    stats = {c: (statistics.fmean(float(r[c]) for r in rows), statistics.pstdev(float(r[c]) for r in rows) or 1.0)
             for c in columns}
    return [{**r, **{c: f"{(float(r[c]) - stats[c][0]) / stats[c][1]:.6f}" for c in columns}} for r in rows]


def write(rows, folder):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "part-0.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    args, _ = parser.parse_known_args(argv)
    rows = []
    for path in sorted(glob.glob(os.path.join(args.input, "*.csv"))):
        with open(path, newline="") as f:
            rows += list(csv.DictReader(f))
    measures = [c for c in rows[0] if c not in ("sample_id", "target")]
    train, test = split_rows(standardize(rows, measures))
    write(train, os.path.join(args.output, "train"))
    write(test, os.path.join(args.output, "test"))


if __name__ == "__main__":
    main()
