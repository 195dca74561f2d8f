"""Load one landed CSV: count its rows and write them, with the object's name, to the output folder."""
import argparse
import csv
import os

parser = argparse.ArgumentParser()
parser.add_argument("--input", required=True)
parser.add_argument("--bytes", type=int, default=0)
parser.add_argument("--output", required=True)
args = parser.parse_args()

with open(args.input, newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
os.makedirs(args.output, exist_ok=True)
name = os.path.basename(args.input)
with open(os.path.join(args.output, name), "w", encoding="utf-8") as f:
    f.write(f"{name},{len(rows)}\n")
print(f"loaded {len(rows)} rows from {name} ({args.bytes} bytes by the event)")
