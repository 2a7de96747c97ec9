"""A stand-in for forecast_monitoring's outputs, for tests of what reads them (the model-quality view), until that
DAG lands: the Glue table ``demand_forecast.forecast_accuracy`` in its agreed shape, with one Parquet partition
per day, and a day's evaluation files, written with the administrator key.

The lead switches the callers to the seed (or to real forecast_monitoring runs) here, in one place.
Contract (owned by forecast_monitoring): Parquet, partitioned by ``dt`` string YYYY-MM-DD (the actuals day A);
columns scope ('overall'|'horizon'|'store'), horizon_days int (1..7 for 'horizon', else NULL), store_id string
(for 'store', else NULL), wape, mae, bias double, forecast_rows bigint, actual_units double,
missing_forecast_partitions string.
"""

from __future__ import annotations

import io
import json
import math
from datetime import date

from sandbox import profile
from sandbox.seed import PARQUET_SD, table_input

TABLE = "forecast_accuracy"
LOCATION = f"s3://{profile.BUCKET}/{profile.PREFIX}/demand_forecast/accuracy/"
COLUMNS = [("scope", "string", "overall | horizon | store"), ("horizon_days", "int", ""), ("store_id", "string", ""),
           ("wape", "double", ""), ("mae", "double", ""), ("bias", "double", ""), ("forecast_rows", "bigint", ""),
           ("actual_units", "double", ""), ("missing_forecast_partitions", "string", "")]


def wape(day: date, horizon: int) -> float:
    """The WAPE written for (day, horizon): grows with the horizon, with a slow wave over the days."""
    return round(0.30 + 0.015 * horizon + 0.03 * math.sin(day.toordinal() / 5), 4)


def create_forecast_accuracy(session, endpoint: str, days: list[date]) -> list[tuple[date, int, float]]:
    """The table and one partition per day (replacing any); returns the (day, horizon, WAPE) rows written."""
    import pandas as pd

    glue = session.client("glue", endpoint_url=endpoint)
    s3 = session.client("s3", endpoint_url=endpoint)
    table = table_input(TABLE, LOCATION, COLUMNS, PARQUET_SD, [("dt", "string", "actuals day, YYYY-MM-DD")],
                        "Realised accuracy of the published forecasts (test stand-in for forecast_monitoring).")
    try:
        glue.delete_table(DatabaseName=profile.FORECAST_DATABASE, Name=TABLE)
    except glue.exceptions.EntityNotFoundException:
        pass
    glue.create_table(DatabaseName=profile.FORECAST_DATABASE, TableInput=table)
    written = []
    for day in days:
        rows = [{"scope": "horizon", "horizon_days": h, "store_id": None, "wape": wape(day, h), "mae": 3.0 + h / 10,
                 "bias": 0.01 * h, "forecast_rows": 500, "actual_units": 10000.0, "missing_forecast_partitions": ""}
                for h in range(1, 8)]
        rows.append({**rows[0], "scope": "overall", "horizon_days": None, "wape": wape(day, 4)})
        frame = pd.DataFrame(rows).astype({"horizon_days": "Int32", "forecast_rows": "int64"})
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        key = f"{profile.PREFIX}/demand_forecast/accuracy/dt={day}/part-00000.parquet"
        s3.put_object(Bucket=profile.BUCKET, Key=key, Body=buffer.getvalue())
        location = f"{LOCATION}dt={day}/"
        glue.create_partition(DatabaseName=profile.FORECAST_DATABASE, TableName=TABLE, PartitionInput={
            "Values": [day.isoformat()], "StorageDescriptor": {**table["StorageDescriptor"], "Location": location}})
        written += [(day, h, wape(day, h)) for h in range(1, 8)]
    return written


def write_evaluation(session, endpoint: str, day: date, models: dict[str, float | None]) -> str:
    """An evaluation job's outputs for ``day`` (evaluation.json and forecast_vs_actuals.png) where evaluate.py
    writes them; returns the job's S3 prefix."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s3 = session.client("s3", endpoint_url=endpoint)
    prefix = f"{profile.PREFIX}/demand_forecast/evaluation/dt={day}/demand-forecast-evaluate-{day:%Y%m%d}-1/"
    evaluation = {"models": {name: ({"wape": w, **({"model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:"
                                                    "model-package/demand-forecast/1"} if name == "champion" else {})}
                                    if w is not None else None) for name, w in models.items()}}
    s3.put_object(Bucket=profile.BUCKET, Key=prefix + "evaluation.json", Body=json.dumps(evaluation).encode())
    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.plot(range(7), [100, 120, 90, 130, 110, 150, 140], label="actual")
    ax.plot(range(7), [105, 115, 95, 125, 115, 140, 135], label="forecast")
    ax.set_title(f"forecast vs actuals, holdout ending {day}")
    ax.legend()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    plt.close(fig)
    s3.put_object(Bucket=profile.BUCKET, Key=prefix + "forecast_vs_actuals.png", Body=png.getvalue())
    return prefix
