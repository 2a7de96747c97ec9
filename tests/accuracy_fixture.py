"""Realised accuracy for tests of what reads it (the model-quality view): partitions of the seeded Glue table
``demand_forecast.forecast_accuracy`` (infra/demand-forecast.yaml, written by forecast_monitoring), with made-up
values whose shape the test knows, and a day's evaluation files; written with the administrator key. The real
forecast_monitoring runs are checked in tests/e2e/test_forecast_monitoring_e2e.py; this writes many days cheaply.
"""

from __future__ import annotations

import io
import json
import math
from datetime import date

from sandbox import profile

TABLE = "forecast_accuracy"
# The table's columns, as forecast_monitoring writes them (asserted against the seeded table below).
COLUMNS = ["scope", "horizon_days", "store_id", "wape", "mae", "bias", "forecast_rows", "actual_units",
           "missing_forecast_partitions"]


def wape(day: date, horizon: int) -> float:
    """The WAPE written for (day, horizon): grows with the horizon, with a slow wave over the days."""
    return round(0.30 + 0.015 * horizon + 0.03 * math.sin(day.toordinal() / 5), 4)


def create_forecast_accuracy(session, endpoint: str, days: list[date]) -> list[tuple[date, int, float]]:
    """One partition per day of the seeded table (replacing any); returns the (day, horizon, WAPE) rows written."""
    import pandas as pd

    glue = session.client("glue", endpoint_url=endpoint)
    s3 = session.client("s3", endpoint_url=endpoint)
    table = glue.get_table(DatabaseName=profile.FORECAST_DATABASE, Name=TABLE)["Table"]
    descriptor = table["StorageDescriptor"]
    assert [c["Name"] for c in descriptor["Columns"]] == COLUMNS, descriptor["Columns"]
    bucket, _, prefix = descriptor["Location"].removeprefix("s3://").partition("/")
    written = []
    for day in days:
        rows = [{"scope": "horizon", "horizon_days": h, "store_id": None, "wape": wape(day, h), "mae": 3.0 + h / 10,
                 "bias": 0.01 * h, "forecast_rows": 500, "actual_units": 10000.0, "missing_forecast_partitions": ""}
                for h in range(1, 8)]
        rows.append({**rows[0], "scope": "overall", "horizon_days": None, "wape": wape(day, 4)})
        frame = pd.DataFrame(rows).astype({"horizon_days": "Int32", "forecast_rows": "int64"})
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        part = f"{prefix.rstrip('/')}/dt={day}/test-fixture/"
        s3.put_object(Bucket=bucket, Key=f"{part}part-00000.parquet", Body=buffer.getvalue())
        partition = {"Values": [day.isoformat()], "StorageDescriptor": {**descriptor, "Location": f"s3://{bucket}/{part}"}}
        try:
            glue.create_partition(DatabaseName=profile.FORECAST_DATABASE, TableName=TABLE, PartitionInput=partition)
        except glue.exceptions.AlreadyExistsException:
            glue.update_partition(DatabaseName=profile.FORECAST_DATABASE, TableName=TABLE,
                                  PartitionValueList=[day.isoformat()], PartitionInput=partition)
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
