"""Train a small classifier and log auc and rmse with MLflow (read later by evaluate/register)."""
import argparse
import glob
import os

import mlflow
import mlflow.sklearn
import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import mean_squared_error, roc_auc_score
from sklearn.model_selection import train_test_split


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--training_data", required=True)
    p.add_argument("--learning_rate", type=float, default=0.1)
    p.add_argument("--n_estimators", type=int, default=50)
    p.add_argument("--model_output", required=True)
    a = p.parse_args()

    df = pd.concat(pd.read_csv(f) for f in glob.glob(os.path.join(a.training_data, "*.csv")))
    y = df.pop("label")
    x_train, x_val, y_train, y_val = train_test_split(df, y, test_size=0.2, random_state=42)

    model = GradientBoostingClassifier(learning_rate=a.learning_rate, n_estimators=a.n_estimators)
    model.fit(x_train, y_train)
    proba = model.predict_proba(x_val)[:, 1]

    mlflow.log_params({"learning_rate": a.learning_rate, "n_estimators": a.n_estimators})
    mlflow.log_metric("auc", roc_auc_score(y_val, proba))
    mlflow.log_metric("rmse", mean_squared_error(y_val, proba) ** 0.5)
    mlflow.sklearn.save_model(model, a.model_output)


if __name__ == "__main__":
    main()
