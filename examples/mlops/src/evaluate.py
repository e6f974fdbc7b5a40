"""Score the trained model on test data; fail the step when auc is below --min_auc."""
import argparse
import glob
import json
import os

import mlflow
import mlflow.sklearn
import pandas as pd
from sklearn.metrics import mean_squared_error, roc_auc_score


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model_input", required=True)
    p.add_argument("--test_data", required=True)
    p.add_argument("--min_auc", type=float, default=None)
    p.add_argument("--evaluation_report", required=True)
    a = p.parse_args()

    model = mlflow.sklearn.load_model(a.model_input)
    df = pd.concat(pd.read_csv(f) for f in glob.glob(os.path.join(a.test_data, "*.csv")))
    y = df.pop("label")
    proba = model.predict_proba(df)[:, 1]
    report = {"auc": roc_auc_score(y, proba), "rmse": mean_squared_error(y, proba) ** 0.5}
    mlflow.log_metrics({f"test_{k}": v for k, v in report.items()})

    os.makedirs(a.evaluation_report, exist_ok=True)
    with open(os.path.join(a.evaluation_report, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    if a.min_auc is not None and report["auc"] < a.min_auc:
        raise SystemExit(f"test auc {report['auc']:.3f} is below the minimum {a.min_auc}")


if __name__ == "__main__":
    main()
