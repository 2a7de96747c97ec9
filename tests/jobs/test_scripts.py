"""The SageMaker entry scripts, run as SageMaker would run them (a process, paths as arguments and SM_*
variables), on small data: 12 store-item series, ~14 months, made by the seed's generator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO

SCRIPTS = REPO / "include" / "scripts" / "demand_forecast"
D = date(2026, 11, 20)
HISTORY_DAYS, HORIZON, ORIGINS = 430, 7, 30


def _run(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([sys.executable, str(SCRIPTS / script), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """The two extracts as Athena's UNLOAD would leave them (Parquet, files without extensions)."""
    from sandbox.seed import Catalog, _day_frame, holidays

    base = tmp_path_factory.mktemp("processing")
    cat = Catalog(stores=3, items=4, seed=7)
    hols = holidays(range(2024, 2028))
    frames = []
    for i in range(HISTORY_DAYS):
        day = D - timedelta(days=HISTORY_DAYS - 1 - i)
        frame = pd.DataFrame(_day_frame(cat, day, 7, hols))
        frame["sales_date"], frame["is_holiday"] = day, day in hols
        frames.append(frame)
    history = pd.concat(frames, ignore_index=True)
    (base / "input" / "training").mkdir(parents=True)
    history.to_parquet(base / "input" / "training" / "20261121_000000_00001_abcde_0001", index=False)
    series = history[["store_id", "item_id"]].drop_duplicates()
    scoring = pd.concat([series.assign(forecast_date=D + timedelta(days=k), is_holiday=False, on_promotion=k == 3)
                         for k in range(1, HORIZON + 1)], ignore_index=True)
    (base / "input" / "scoring").mkdir(parents=True)
    scoring.to_parquet(base / "input" / "scoring" / "20261121_000000_00002_abcde_0001", index=False)
    return base


@pytest.fixture(scope="module")
def preprocessed(work):
    out = _run("preprocess.py", "--base-dir", str(work), "--partition-date", D.isoformat(),
               "--horizon-days", str(HORIZON), "--training-origins-days", str(ORIGINS))
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def model_dir(work, preprocessed, tmp_path_factory) -> Path:
    model = tmp_path_factory.mktemp("model")
    out = _run("train.py", "--max_iter", "30", "--learning_rate", "0.1",
               env={"SM_CHANNEL_TRAIN": str(work / "output" / "train"), "SM_MODEL_DIR": str(model)})
    assert "train_wape=" in out and "training_rows=" in out  # what MetricDefinitions read
    return model


def test_preprocess_splits_training_holdout_and_scoring(work, preprocessed):
    assert preprocessed["series"] == 12 and preprocessed["history_days"] == HISTORY_DAYS
    train = pd.read_parquet(work / "output" / "train" / "train.parquet")
    holdout = pd.read_parquet(work / "output" / "holdout" / "holdout.parquet")
    # Out of sample: no training target falls in the holdout week.
    assert pd.to_datetime(train["forecast_date"]).max() <= pd.Timestamp(D - timedelta(days=HORIZON))
    assert pd.to_datetime(holdout["forecast_date"]).min() == pd.Timestamp(D - timedelta(days=HORIZON - 1))
    assert holdout["actual"].notna().all() and len(holdout) == preprocessed["holdout_rows"]
    lines = (work / "output" / "scoring" / "scoring.jsonl").read_text().splitlines()
    assert len(lines) == 12 * HORIZON
    record = json.loads(lines[0])
    assert record["forecast_date"] == (D + timedelta(days=1)).isoformat() and record["horizon_days"] == 1


def _message(work: Path) -> str:
    """/opt/ml/output/message of a processing job whose --base-dir is /opt/ml/processing."""
    return (work.parent / "output" / "message").read_text()


def test_preprocess_refuses_history_that_does_not_end_at_d_and_says_no_retry_can_help(work):
    done = subprocess.run([sys.executable, str(SCRIPTS / "preprocess.py"), "--base-dir", str(work),
                           "--partition-date", (D + timedelta(days=1)).isoformat()], capture_output=True, text=True)
    assert done.returncode != 0 and "expected the partition day" in done.stderr
    assert _message(work).startswith("NonRetryableError: history ends 2026-11-20, expected the partition day")


def test_preprocess_names_the_history_a_run_needs(work):
    done = subprocess.run([sys.executable, str(SCRIPTS / "preprocess.py"), "--base-dir", str(work),
                           "--partition-date", D.isoformat(), "--training-origins-days", "500"],
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert _message(work) == ("NonRetryableError: history of 430 days is too short: 500 training origins, "
                              "the 7-day holdout and 28 days of lags need 536")


@pytest.mark.parametrize("args, problem", [
    (["--max_iters", "30"], "unknown arguments ['--max_iters', '30']: train.py takes max_iter, learning_rate"),
    (["--max_iter", "2.5"], "max_iter: 2.5 is not an integer"),
    (["--learning_rate", "0"], "learning_rate: 0.0 must be above 0"),
])
def test_train_refuses_hyperparameters_it_does_not_take_without_a_retry(work, preprocessed, tmp_path, args, problem):
    done = subprocess.run([sys.executable, str(SCRIPTS / "train.py"), *args], capture_output=True, text=True,
                          env={**os.environ, "SM_CHANNEL_TRAIN": str(work / "output" / "train"),
                               "SM_MODEL_DIR": str(tmp_path / "model"), "SM_OUTPUT_DIR": str(tmp_path / "output")})
    assert done.returncode != 0
    assert (tmp_path / "output" / "failure").read_text().startswith(f"NonRetryableError: {problem}")


def test_train_writes_a_model_the_serving_code_loads(model_dir):
    meta = json.loads((model_dir / "model.json").read_text())
    assert (model_dir / "model.joblib").exists() and meta["training_rows"] > 1000
    assert set(meta["categories"]["store_id"]) == {"S01", "S02", "S03"}


def test_serving_contract_turns_jsonlines_into_prediction_csv(work, model_dir):
    sys.path.insert(0, str(SCRIPTS))
    try:
        import inference
    finally:
        sys.path.remove(str(SCRIPTS))
    model = inference.model_fn(str(model_dir))
    payload = (work / "output" / "scoring" / "scoring.jsonl").read_bytes()
    frame = inference.input_fn(payload, "application/jsonlines")
    body = inference.output_fn(inference.predict_fn(frame, model), "text/csv")
    rows = [line.split(",") for line in body.splitlines()]
    assert len(rows) == 12 * HORIZON and all(len(r) == 5 for r in rows)
    assert all(float(r[4]) >= 0 for r in rows)
    with pytest.raises(ValueError, match="unsupported content type"):
        inference.input_fn(payload, "text/csv")


def test_evaluate_scores_challenger_champion_and_baseline(work, model_dir, tmp_path):
    for name in ("challenger", "champion"):  # the champion: the same model, registered earlier
        (work / "input" / name).mkdir(exist_ok=True)
        with tarfile.open(work / "input" / name / "model.tar.gz", "w:gz") as tar:
            for path in model_dir.iterdir():
                tar.add(path, arcname=path.name)
    (work / "input" / "holdout").mkdir(exist_ok=True)
    (work / "input" / "holdout" / "holdout.parquet").write_bytes(
        (work / "output" / "holdout" / "holdout.parquet").read_bytes())
    _run("evaluate.py", "--base-dir", str(work), "--partition-date", D.isoformat(), "--champion-arn", "arn:champ")
    evaluation = json.loads((work / "output" / "evaluation" / "evaluation.json").read_text())
    models = evaluation["models"]
    assert set(models) == {"challenger", "champion", "baseline"}
    assert models["champion"]["wape"] == pytest.approx(models["challenger"]["wape"])  # same model, same score
    for m in models.values():
        assert m["wape"] >= 0 and m["mae"] >= 0 and -1 < m["bias"] < 1 and m["rows"] > 0
    png = (work / "output" / "evaluation" / "forecast_vs_actuals.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
