"""SageMaker Processing entry point: score the new model against the current one and a baseline.

Inputs (under /opt/ml/processing/input/):
    holdout/     holdout.parquet from preprocess.py (features, actuals, seasonal-naive forecast)
    challenger/  model.tar.gz of the model just trained
    champion/    model.tar.gz of the latest approved model, when there is one
Outputs (under /opt/ml/processing/output/evaluation/):
    evaluation.json          WAPE, MAE and bias per model on the holdout window
    forecast_vs_actuals.png  daily totals: actuals against each model's forecast
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from features import metrics  # noqa: E402
from inference import model_fn, predict_fn  # noqa: E402

BASE = Path("/opt/ml/processing")


def load_model(model_input: Path):
    archives = sorted(model_input.rglob("model.tar.gz"))
    if not archives:
        return None
    target = Path(tempfile.mkdtemp(prefix="model-"))
    with tarfile.open(archives[0]) as tar:
        tar.extractall(target, filter="data")
    return model_fn(target)


def plot(holdout: pd.DataFrame, forecasts: dict[str, pd.Series], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    daily = holdout.assign(**{name: values for name, values in forecasts.items()})
    daily = daily.groupby("forecast_date")[["actual", *forecasts]].sum()
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    ax.plot(daily.index.astype(str), daily["actual"], "k-o", linewidth=2.5, label="actual")
    for name in forecasts:
        ax.plot(daily.index.astype(str), daily[name], "--o", label=name)
    ax.set_title(title)
    ax.set_ylabel("units sold, all series")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partition-date", required=True)
    parser.add_argument("--champion-arn", default="")
    parser.add_argument("--base-dir", default=str(BASE), help="the processing root (/opt/ml/processing on SageMaker)")
    args = parser.parse_args(argv)
    base = Path(args.base_dir)

    holdout = pd.read_parquet(next((base / "input" / "holdout").rglob("*.parquet")))
    challenger = load_model(base / "input" / "challenger")
    if challenger is None:
        raise SystemExit("no challenger model.tar.gz under input/challenger")
    forecasts = {"challenger": predict_fn(holdout, challenger)["predicted_units"]}
    results = {"challenger": metrics(holdout["actual"], forecasts["challenger"])}
    results["baseline"] = {**metrics(holdout["actual"], holdout["seasonal_naive"]), "method": "same weekday last week"}

    champion = load_model(base / "input" / "champion") if args.champion_arn else None
    if champion is not None:
        try:
            forecasts["champion"] = predict_fn(holdout, champion)["predicted_units"]
            results["champion"] = {**metrics(holdout["actual"], forecasts["champion"]),
                                   "model_package_arn": args.champion_arn}
        except Exception as e:  # an incompatible champion must not block the challenger's evaluation
            results["champion"] = {"wape": None, "model_package_arn": args.champion_arn, "error": str(e)}
    else:
        results["champion"] = None
    forecasts["seasonal naive"] = holdout["seasonal_naive"]

    out = base / "output" / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    evaluation = {
        "partition_date": args.partition_date,
        "holdout": {
            "first_day": str(holdout["forecast_date"].min()),
            "last_day": str(holdout["forecast_date"].max()),
            "rows": int(len(holdout)),
            "series": int(holdout[["store_id", "item_id"]].drop_duplicates().shape[0]),
        },
        "models": results,
        "plot": "forecast_vs_actuals.png",
    }
    (out / "evaluation.json").write_text(json.dumps(evaluation, indent=2))
    plot(holdout, forecasts, out / "forecast_vs_actuals.png", f"Holdout week ending {args.partition_date}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
