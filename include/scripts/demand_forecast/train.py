"""SageMaker Training entry point (script mode): fit the demand model.

Hyperparameters arrive as command-line arguments (and SM_HP_* variables); the training data in the
`train` channel (SM_CHANNEL_TRAIN); the model goes to SM_MODEL_DIR, which SageMaker tars into
model.tar.gz. Metrics are printed as `name=value;` so the job's MetricDefinitions pick them up.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from contract import HYPERPARAMETERS, fail_permanently, hyperparameter_problems, parse_hyperparameter  # noqa: E402
from features import CATEGORICAL, FEATURES, design_matrix, metrics  # noqa: E402

MODEL_FORMAT = 1


def main(argv: list[str] | None = None) -> None:
    # The hyperparameters come from contract.HYPERPARAMETERS, which the pipeline settings are validated
    # against: a name or value this script would not take is refused when the DAG is parsed, and again here.
    parser = argparse.ArgumentParser()
    for name, spec in HYPERPARAMETERS.items():
        parser.add_argument(f"--{name}", default=spec["default"], help=spec["help"],
                            type=lambda text, name=name: parse_hyperparameter(name, text))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    failure_file = Path(os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output")) / "failure"
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        fail_permanently(f"unknown arguments {unknown}: train.py takes {', '.join(HYPERPARAMETERS)}", failure_file)
    problems = hyperparameter_problems({name: getattr(args, name) for name in HYPERPARAMETERS})
    if problems:
        fail_permanently("; ".join(f"{name}: {problem}" for name, problem in problems), failure_file)

    files = sorted(Path(args.train).rglob("*.parquet"))
    if not files:
        fail_permanently(f"no training data (*.parquet) under {args.train}", failure_file)
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    categories = {c: sorted(frame[c].dropna().unique().tolist()) for c in CATEGORICAL}
    X, y = design_matrix(frame, categories), frame["actual"].to_numpy(dtype=float)
    print(f"training on {len(X)} rows x {X.shape[1]} features, {frame[['store_id', 'item_id']].drop_duplicates().shape[0]} series")

    started = time.time()
    model = HistGradientBoostingRegressor(
        loss="poisson",
        max_iter=args.max_iter,
        learning_rate=args.learning_rate,
        max_leaf_nodes=args.max_leaf_nodes,
        min_samples_leaf=args.min_samples_leaf,
        l2_regularization=args.l2_regularization,
        categorical_features=[FEATURES.index(c) for c in CATEGORICAL],
        early_stopping=False,
        random_state=0,
    )
    model.fit(X, y)
    fit_seconds = time.time() - started
    fitted = metrics(y, model.predict(X))
    last_origin = frame["forecast_date"].max()
    recent = frame["forecast_date"] >= (pd.Timestamp(last_origin) - pd.Timedelta(days=28)).date()
    recent_metrics = metrics(y[recent.to_numpy()], model.predict(X[recent.to_numpy()]))

    model_dir = Path(args.model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / "model.joblib")
    meta = {
        "format": MODEL_FORMAT,
        "features": FEATURES,
        "categories": categories,
        "trained_through": str(last_origin),
        "training_rows": int(len(X)),
        "hyperparameters": {k: getattr(args, k) for k in HYPERPARAMETERS},
        "train_metrics": fitted,
    }
    (model_dir / "model.json").write_text(json.dumps(meta, indent=2))
    # One line per metric, in the format the MetricDefinitions regexes expect.
    print(f"train_wape={fitted['wape']:.6f};")
    print(f"train_mae={fitted['mae']:.6f};")
    print(f"recent_wape={recent_metrics['wape']:.6f};")
    print(f"fit_seconds={fit_seconds:.3f};")
    print(f"training_rows={len(X)};")
    print(f"done: {np.round(fit_seconds, 1)} s")


if __name__ == "__main__":
    main()
