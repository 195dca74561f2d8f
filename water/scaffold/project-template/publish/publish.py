"""Publish the scores. Runs once per shard: WATER_SHARD is "INDEX/COUNT"."""
import argparse
import os


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    args = parser.parse_args()
    index, count = (int(x) for x in os.environ.get("WATER_SHARD", "0/1").split("/"))
    print(f"publishing shard {index + 1} of {count} from {args.input}")


if __name__ == "__main__":
    main()
