"""SageMaker script-mode entry for the babyweight XGBoost regressor."""
import argparse
import glob
import os

import pandas as pd
import xgboost as xgb


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max_depth", type=int, default=5)
    parser.add_argument("--eta", type=float, default=0.2)
    args, _ = parser.parse_known_args()
    files = sorted(glob.glob(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "*.csv")))
    frame = pd.concat(pd.read_csv(f) for f in files)
    label = frame.pop("weight_pounds")
    model = xgb.train({"max_depth": args.max_depth, "eta": args.eta, "objective": "reg:squarederror"},
                      xgb.DMatrix(frame, label=label), num_boost_round=100)
    model.save_model(os.path.join(os.environ["SM_MODEL_DIR"], "xgboost-model"))


if __name__ == "__main__":
    main()
