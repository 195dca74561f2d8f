"""The pipeline spec stays valid and renders; the feature code does what it says."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)
sys.path.insert(0, PROJECT)


def test_spec_validates() -> None:
    # the interpreter running the tests has water: no activated venv or PATH needed
    done = subprocess.run([sys.executable, "-m", "water", "validate", PROJECT], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK __NAME__:")


def test_features_count_activity_and_popularity() -> None:
    from features.features import build

    rows = [{"user_id": "u1", "item_id": "a"}, {"user_id": "u1", "item_id": "b"}, {"user_id": "u2", "item_id": "a"}]
    out = build(rows)
    assert [r["user_activity"] for r in out] == [2, 2, 1]
    assert [r["item_popularity"] for r in out] == [2, 1, 2]
