"""SageMaker Processing entry point: turn the Athena extracts into model-ready features.

Inputs (under /opt/ml/processing/input/):
    training/   Parquet: store_id, item_id, sales_date, units_sold, unit_price, on_promotion, is_holiday
    scoring/    Parquet: store_id, item_id, forecast_date, is_holiday, on_promotion
Outputs (under /opt/ml/processing/output/):
    train/train.parquet      examples whose target day is on or before the holdout origin
    holdout/holdout.parquet  the last horizon days before and including D, with actuals and the baseline
    scoring/scoring.jsonl    one JSON line per series and forecast day after D (Batch Transform input)
    train/summary.json       counts, for the record
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from contract import LAG_DAYS, fail_permanently, min_history_days  # noqa: E402
from features import FEATURES, KEYS, Panel  # noqa: E402

BASE = Path("/opt/ml/processing")


def read_parquet_dir(path: Path, message_file: Path) -> pd.DataFrame:
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
    if not files:
        fail_permanently(f"no input files under {path}", message_file)
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partition-date", required=True)
    parser.add_argument("--horizon-days", type=int, default=7)
    parser.add_argument("--training-origins-days", type=int, default=120)
    parser.add_argument("--base-dir", default=str(BASE), help="the processing root (/opt/ml/processing on SageMaker)")
    args = parser.parse_args(argv)
    base = Path(args.base_dir)
    # /opt/ml/output/message: SageMaker returns it as the job's ExitMessage (see contract.py).
    message_file = base.parent / "output" / "message"
    started = time.time()

    history = read_parquet_dir(base / "input" / "training", message_file)
    calendar = read_parquet_dir(base / "input" / "scoring", message_file)
    panel = Panel.from_history(history)
    day = pd.Timestamp(args.partition_date)
    if panel.last_day != day:
        fail_permanently(f"history ends {panel.last_day.date()}, expected the partition day {day.date()}",
                         message_file)
    h = args.horizon_days
    last = panel.index_of(day)
    holdout_origin = last - h
    first_origin = holdout_origin - args.training_origins_days
    if first_origin < LAG_DAYS:
        needed = min_history_days(args.training_origins_days, h)
        fail_permanently(f"history of {len(panel.days)} days is too short: {args.training_origins_days} training "
                         f"origins, the {h}-day holdout and {LAG_DAYS} days of lags need {needed}", message_file)

    train = panel.examples(range(first_origin, holdout_origin), range(1, h + 1))
    # Keep only targets the holdout week has not seen: the evaluation must be out of sample.
    train = train[(pd.to_datetime(train["forecast_date"]) <= panel.days[holdout_origin]) & train["actual"].notna()]
    holdout = pd.concat([panel.rows(holdout_origin, k) for k in range(1, h + 1)], ignore_index=True)
    holdout = holdout[holdout["actual"].notna()]
    scoring = pd.concat([panel.rows(last, k, calendar) for k in range(1, h + 1)], ignore_index=True)
    active = calendar[KEYS].drop_duplicates()
    scoring = scoring.merge(active, on=KEYS, how="inner")

    out = base / "output"
    for name in ("train", "holdout", "scoring"):
        (out / name).mkdir(parents=True, exist_ok=True)
    train.to_parquet(out / "train" / "train.parquet", index=False)
    holdout.to_parquet(out / "holdout" / "holdout.parquet", index=False)
    scoring_cols = [*KEYS, "forecast_date", *[f for f in FEATURES if f not in KEYS]]
    records = scoring[scoring_cols].assign(forecast_date=scoring["forecast_date"].astype(str))
    records.to_json(out / "scoring" / "scoring.jsonl", orient="records", lines=True)
    summary = {
        "partition_date": args.partition_date,
        "history_rows": len(history),
        "history_days": len(panel.days),
        "series": len(panel.series),
        "train_rows": len(train),
        "holdout_rows": len(holdout),
        "holdout_origin": str(panel.days[holdout_origin].date()),
        "scoring_rows": len(records),
        "seconds": round(time.time() - started, 2),
    }
    (out / "train" / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
