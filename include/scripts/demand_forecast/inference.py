"""Serving entry point for the SageMaker scikit-learn container (Batch Transform).

Input: JSON Lines (application/jsonlines), one object per series and forecast day, as written by
preprocess.py. Output: text/csv lines `store_id,item_id,forecast_date,horizon_days,predicted_units`,
the schema of the `predictions` table.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from features import design_matrix  # noqa: E402

OUTPUT_COLUMNS = ["store_id", "item_id", "forecast_date", "horizon_days", "predicted_units"]


def model_fn(model_dir):
    meta = json.loads((Path(model_dir) / "model.json").read_text())
    return {"model": joblib.load(Path(model_dir) / "model.joblib"), "meta": meta}


def input_fn(input_data, content_type):
    if content_type not in ("application/jsonlines", "application/json-lines", "application/x-jsonlines"):
        raise ValueError(f"unsupported content type {content_type!r}: send application/jsonlines")
    text = input_data.decode("utf-8") if isinstance(input_data, (bytes, bytearray)) else input_data
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return pd.DataFrame(rows)


def predict_fn(frame, model):
    meta = model["meta"]
    missing = [f for f in meta["features"] if f not in frame.columns]
    if missing:
        raise ValueError(f"input lacks features the model was trained with: {missing}")
    X = design_matrix(frame, meta["categories"], meta["features"])
    predicted = np.clip(model["model"].predict(X), 0, None)
    out = frame[["store_id", "item_id", "forecast_date", "horizon_days"]].copy()
    out["predicted_units"] = np.round(predicted, 3)
    return out


def output_fn(prediction, accept):
    if accept not in ("text/csv", "*/*"):
        raise ValueError(f"unsupported accept type {accept!r}: ask for text/csv")
    buf = io.StringIO()
    prediction[OUTPUT_COLUMNS].to_csv(buf, header=False, index=False, lineterminator="\n")
    return buf.getvalue().rstrip("\n")
