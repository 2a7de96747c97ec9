"""forecast_monitoring end to end: real `airflow dags test forecast_monitoring <A>` runs on the sandbox, whose
Athena runs the accuracy and drift SQL for real, and whose Slack receives the alerts. Results are read back
through Athena and checked against independent pandas/numpy computations of the same definitions.

The forecasts are written into `demand_forecast.predictions` by the test, in the table's own CSV layout, one
Glue partition per origin day (published as the forecast DAG publishes them): a forecast run per origin day
would cost about a minute and a half each, and accuracy needs seven origins per actuals day. They are the
actual sales times a known noise, so the expected errors are known. The days used (LAST_DAY-60 .. LAST_DAY-36)
are no other test's; the partitions and every rewritten sales day are removed or restored at the end.
"""

from __future__ import annotations

import io
import json
import re
import time
from contextlib import contextmanager
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
import yaml

from sandbox.profile import BUCKET, FORECAST_DATABASE, ONCALL_HANDLE, PREFIX
from tests.e2e.conftest import LAST_DAY, Pipeline, alerts

pytestmark = pytest.mark.e2e

A1 = LAST_DAY - timedelta(days=50)  # accuracy and drift against pandas/numpy
MISSING = A1 - timedelta(days=4)  # an origin without a published forecast
SHIFT = LAST_DAY - timedelta(days=40)  # first day of the level shift
SHIFT_FACTOR = 3.0
TEST_PREFIX = "e2e-monitoring"


def sales(pipeline: Pipeline, day: date) -> pd.DataFrame:
    s3 = pipeline.sandbox.boto3_client("s3")
    body = s3.get_object(Bucket=BUCKET, Key=f"raw/sales/dt={day}/part-00000.parquet")["Body"].read()
    return pd.read_parquet(io.BytesIO(body))


def publish_forecasts(pipeline: Pipeline, origin: date, rng: np.random.Generator) -> None:
    """The forecasts made on ``origin`` for the next 7 days: the day's actual units x (1 + noise growing with
    the horizon), for every series sold on that day, as a predictions partition."""
    lines = []
    for h in range(1, 8):
        target = origin + timedelta(days=h)
        frame = sales(pipeline, target)
        noise = rng.normal(0.0, 0.05 * h, len(frame))
        predicted = np.maximum(frame["units_sold"].to_numpy() * (1 + noise) + rng.normal(0, 0.5, len(frame)), 0)
        lines += [f"{s},{i},{target},{h},{p:.4f}" for s, i, p in zip(frame["store_id"], frame["item_id"], predicted,
                                                                      strict=True)]
    key = f"{PREFIX}/demand_forecast/predictions/dt={origin}/{TEST_PREFIX}/scoring.jsonl.out"
    s3, glue = pipeline.sandbox.boto3_client("s3"), pipeline.sandbox.boto3_client("glue")
    s3.put_object(Bucket=BUCKET, Key=key, Body="\n".join(lines).encode() + b"\n")
    from batchml.job_requests import partition_input

    table = glue.get_table(DatabaseName=FORECAST_DATABASE, Name="predictions")["Table"]
    location = f"s3://{BUCKET}/{key.rsplit('/', 1)[0]}/"
    try:
        glue.create_partition(DatabaseName=FORECAST_DATABASE, TableName="predictions",
                              PartitionInput=partition_input(table, [str(origin)], location))
    except glue.exceptions.AlreadyExistsException:
        glue.update_partition(DatabaseName=FORECAST_DATABASE, TableName="predictions", PartitionValueList=[str(origin)],
                              PartitionInput=partition_input(table, [str(origin)], location))


def forecasts(pipeline: Pipeline, origin: date) -> pd.DataFrame:
    s3 = pipeline.sandbox.boto3_client("s3")
    key = f"{PREFIX}/demand_forecast/predictions/dt={origin}/{TEST_PREFIX}/scoring.jsonl.out"
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return pd.read_csv(io.BytesIO(body), header=None,
                       names=["store_id", "item_id", "forecast_date", "horizon_days", "predicted_units"])


def athena_rows(pipeline: Pipeline, sql: str, day: date) -> pd.DataFrame:
    from tools.inspect_run import athena_query

    rows = athena_query(pipeline.sandbox.boto3_client("athena"), sql, database=FORECAST_DATABASE,
                        workgroup="demand_forecast", params=[f"'{day}'"])
    return pd.DataFrame(rows[1:], columns=rows[0])


def run_monitoring(pipeline: Pipeline, day: date, **env: str) -> tuple[int, str, float]:
    import subprocess
    import sys

    from tests.conftest import REPO

    log = pipeline.logs / f"monitoring-{day}-{len(list(pipeline.logs.iterdir()))}.log"
    started = time.monotonic()
    with log.open("w") as f:
        proc = subprocess.run([sys.executable, "-m", "airflow", "dags", "test", "forecast_monitoring", str(day)],
                              cwd=REPO, env=pipeline.env(**env), stdout=f, stderr=subprocess.STDOUT, timeout=600)
    return proc.returncode, log.read_text(), time.monotonic() - started


@pytest.fixture(scope="module")
def published(pipeline):
    """Forecast partitions for every origin the tests read, except MISSING; removed afterwards."""
    rng = np.random.default_rng(13)
    origins = [A1 - timedelta(days=k) for k in range(1, 8) if A1 - timedelta(days=k) != MISSING]
    origins += [SHIFT - timedelta(days=k) for k in range(-2, 9)]  # actuals days SHIFT-1 .. SHIFT+2
    for origin in origins:
        publish_forecasts(pipeline, origin, rng)
    yield origins
    glue = pipeline.sandbox.boto3_client("glue")
    for origin in origins:
        glue.delete_partition(DatabaseName=FORECAST_DATABASE, TableName="predictions", PartitionValues=[str(origin)])


@pytest.fixture(scope="module")
def first_day(pipeline, published):
    pipeline.sandbox.client.clear_access()
    code, log, seconds = run_monitoring(pipeline, A1)
    assert code == 0, log[-5000:]
    print(f"forecast_monitoring {A1}: {seconds:.1f} s")
    return log, pipeline.sandbox.client.access()  # and every call the sandbox authorised, as whom


def test_every_call_of_a_monitoring_run_is_allowed_by_the_airflow_roles_policy(pipeline, first_day):
    """IAM is enforced: the run succeeded with nothing refused, and each call it made is allowed by a statement
    of the Airflow role in infra/demand-forecast.yaml as written (the monitor has no role of its own)."""
    from tests.e2e.test_least_privilege import AIRFLOW_SESSION, _stack_refs
    from tests.unit.test_infra_policies import matching_statements

    entries = first_day[1]
    assert not [e for e in entries if not e["allowed"]]
    mine = [e for e in entries if AIRFLOW_SESSION in e["principal"]]
    actions = {e["action"] for e in mine}
    assert {"glue:CreatePartition", "athena:StartQueryExecution", "s3:ListBucket", "sagemaker:ListModelPackages",
            "glue:GetPartitions"} <= actions, actions
    refs = _stack_refs(pipeline)
    denied = [e for e in mine if not matching_statements("AirflowRole", e["action"], e["resource"], refs, e["context"])]
    assert not denied, denied


def expected_accuracy(pipeline: Pipeline, day: date) -> pd.DataFrame:
    """pandas: every forecast for ``day`` from the partitions there are, inner-joined with the day's sales."""
    frames = [forecasts(pipeline, day - timedelta(days=h)) for h in range(1, 8) if day - timedelta(days=h) != MISSING]
    predicted = pd.concat(frames)
    predicted = predicted[predicted["forecast_date"] == str(day)]
    joined = predicted.merge(sales(pipeline, day), on=["store_id", "item_id"], how="inner")
    joined["error"] = joined["predicted_units"] - joined["units_sold"]

    def metrics(g: pd.DataFrame) -> pd.Series:
        actual = float(g["units_sold"].sum())
        return pd.Series({"wape": g["error"].abs().sum() / actual, "mae": g["error"].abs().mean(),
                          "bias": g["error"].sum() / actual, "forecast_rows": len(g), "actual_units": actual})

    overall = metrics(joined).to_frame().T.assign(scope="overall", key="")
    by_horizon = joined.groupby("horizon_days").apply(metrics, include_groups=False).reset_index()
    by_horizon = by_horizon.assign(scope="horizon", key=by_horizon["horizon_days"].astype(str))
    by_store = joined.groupby("store_id").apply(metrics, include_groups=False).reset_index()
    by_store = by_store.assign(scope="store", key=by_store["store_id"])
    return pd.concat([overall, by_horizon, by_store])[["scope", "key", "wape", "mae", "bias", "forecast_rows",
                                                      "actual_units"]]


def test_accuracy_rows_equal_a_pandas_computation_of_the_same_join(pipeline, first_day):
    got = athena_rows(pipeline, "SELECT * FROM forecast_accuracy WHERE dt = ?", A1)
    got["key"] = got["horizon_days"].fillna(got["store_id"]).fillna("")
    expected = expected_accuracy(pipeline, A1)
    assert sorted(got["scope"].value_counts().items()) == sorted(expected["scope"].value_counts().items())
    assert (expected["scope"] == "horizon").sum() == 6  # horizon 4 comes from the missing partition
    merged = expected.merge(got, on=["scope", "key"], suffixes=("", "_athena"), how="outer", indicator=True)
    assert set(merged["_merge"]) == {"both"}
    for column in ("wape", "mae", "bias", "actual_units"):
        assert np.allclose(merged[column].astype(float), merged[f"{column}_athena"].astype(float), rtol=1e-9), column
    assert (merged["forecast_rows"].astype(int) == merged["forecast_rows_athena"].astype(int)).all()
    # the missing origin is reported in every row, and nowhere fatal
    assert set(got["missing_forecast_partitions"]) == {str(MISSING)}
    assert f"No published forecast partition for {MISSING}" in first_day[0]
    assert 0.0 < float(got.loc[got["scope"] == "overall", "wape"].iloc[0]) < 0.3


def psi(reference: np.ndarray, current: np.ndarray, bins: np.ndarray) -> float:
    """The reference computation: shares per bin, floored at 1e-4, sum (cur - ref) ln(cur / ref)."""
    ref = np.bincount(reference, minlength=len(bins)) / len(reference)
    cur = np.bincount(current, minlength=len(bins)) / len(current)
    present = (np.bincount(reference, minlength=len(bins)) + np.bincount(current, minlength=len(bins))) > 0
    ref, cur = np.maximum(ref[present], 1e-4), np.maximum(cur[present], 1e-4)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def test_psi_equals_a_reference_numpy_computation(pipeline, first_day):
    got = athena_rows(pipeline, "SELECT * FROM input_drift WHERE dt = ?", A1).set_index("feature")
    current_days = [A1 - timedelta(days=k) for k in range(7)]
    # No model was approved before A1 here: the reference is the 28 days before the latest week.
    reference_days = [A1 - timedelta(days=7 + k) for k in range(28)]
    assert got.loc["units_sold", "reference_start"] == str(min(reference_days))
    assert got.loc["units_sold", "reference_end"] == str(max(reference_days))
    assert got.loc["units_sold", "champion_version"] is None
    cur, ref = (pd.concat([sales(pipeline, d) for d in days]) for days in (current_days, reference_days))
    binning = {
        "units_sold": lambda f: np.minimum(np.floor(np.log2(f["units_sold"].to_numpy() + 1)), 10).astype(int),
        "unit_price": lambda f: np.clip(np.floor(f["unit_price"].to_numpy()), 0, 50).astype(int),
        "on_promotion": lambda f: f["on_promotion"].to_numpy().astype(int),
    }
    for feature, bins_of in binning.items():
        expected = psi(bins_of(ref), bins_of(cur), np.arange(51))
        assert float(got.loc[feature, "psi"]) == pytest.approx(expected, rel=1e-9, abs=1e-12), feature
        assert float(got.loc[feature, "value"]) == pytest.approx(cur[feature].astype(float).mean(), rel=1e-9)
    series = lambda f: set(zip(f["store_id"], f["item_id"], strict=True))  # noqa: E731
    ref_series, cur_series = series(ref), series(cur)
    active = np.mean([len(series(sales(pipeline, d)) & ref_series) / len(ref_series) for d in current_days])
    assert float(got.loc["active_series_share", "value"]) == pytest.approx(active, rel=1e-9)
    assert float(got.loc["new_series_share", "value"]) == pytest.approx(len(cur_series - ref_series) / len(cur_series))
    assert float(got.loc["vanished_series_share", "value"]) == pytest.approx(
        len(ref_series - cur_series) / len(ref_series))
    assert pd.isna(got.loc["active_series_share", "psi"])  # no PSI for a share


def test_a_rerun_repoints_the_one_partition(pipeline, first_day):
    glue = pipeline.sandbox.boto3_client("glue")
    before = glue.get_partition(DatabaseName=FORECAST_DATABASE, TableName="forecast_accuracy",
                                PartitionValues=[str(A1)])["Partition"]["StorageDescriptor"]["Location"]
    rows_before = athena_rows(pipeline, "SELECT count(*) AS n FROM forecast_accuracy WHERE dt = ?", A1)
    code, log, _ = run_monitoring(pipeline, A1)
    assert code == 0, log[-5000:]
    parts = glue.get_partitions(DatabaseName=FORECAST_DATABASE, TableName="forecast_accuracy",
                                Expression=f"dt = '{A1}'")["Partitions"]
    assert len(parts) == 1 and parts[0]["StorageDescriptor"]["Location"] != before
    assert f"/forecast_monitoring/accuracy/dt={A1}/run=" in before
    assert athena_rows(pipeline, "SELECT count(*) AS n FROM forecast_accuracy WHERE dt = ?", A1).equals(rows_before)


@contextmanager
def level_shift(pipeline: Pipeline, days: list[date], factor: float):
    """Every series sells ``factor`` times as much on ``days`` (the raw Parquet rewritten through S3, as an
    upstream change would); the original objects are put back afterwards, whatever happens."""
    s3 = pipeline.sandbox.boto3_client("s3")
    originals = {}
    try:
        for day in days:
            key = f"raw/sales/dt={day}/part-00000.parquet"
            originals[key] = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            frame = pd.read_parquet(io.BytesIO(originals[key]))
            frame["units_sold"] = (frame["units_sold"] * factor).round().astype(frame["units_sold"].dtype)
            body = io.BytesIO()
            frame.to_parquet(body, index=False)
            s3.put_object(Bucket=BUCKET, Key=key, Body=body.getvalue())
        yield
    finally:
        for key, body in originals.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def test_a_level_shift_warns_then_pages_after_n_days(pipeline, published, tmp_path):
    """Sales triple from SHIFT on while the forecasts do not: day SHIFT-1 is quiet, SHIFT and SHIFT+1 warn
    (no mention), SHIFT+2 pages on-call (page_after_days 3), each naming metric, threshold, trend and days."""
    settings_dir = tmp_path / "settings"
    settings_dir.mkdir()
    for f in pipeline.settings_dir.glob("*.yaml"):
        (settings_dir / f.name).write_text(f.read_text())
    monitoring = yaml.safe_load((settings_dir / "forecast_monitoring.yaml").read_text())
    monitoring["alerts"].update({"max_wape_h1": 0.3, "page_after_days": 3})
    (settings_dir / "forecast_monitoring.yaml").write_text(yaml.safe_dump(monitoring))
    days = [SHIFT + timedelta(days=k) for k in range(-1, 3)]
    messages, seconds = {}, []
    with level_shift(pipeline, days[1:], SHIFT_FACTOR):
        for day in days:  # a backfill of exact days, in order, as `backfill create --max-active-runs 1` runs them
            code, log, took = run_monitoring(pipeline, day, BATCHML_CONFIG_DIR=str(settings_dir))
            assert code == 0, log[-5000:]
            seconds.append(round(took, 1))
            messages[day] = alerts(pipeline, day)
    print(f"forecast_monitoring runs: {seconds} s")
    quiet, warn1, warn2, page = (messages[d] for d in days)
    assert quiet == []
    for day, [warning] in ((days[1], warn1), (days[2], warn2)):
        blocks = json.dumps(warning["blocks"])
        assert f"forecast_monitoring {day}: rolling WAPE at horizon 1" in warning["text"]
        assert ":warning:" in blocks and ":rotating_light:" not in blocks and ONCALL_HANDLE not in blocks
        assert "> threshold 0.3" in warning["text"]
    assert "day 1 of 3 before a page" in warn1[0]["text"] and "day 2 of 3 before a page" in warn2[0]["text"]
    [paged] = page
    blocks = json.dumps(paged["blocks"])
    assert ":rotating_light:" in blocks and f"On call: {ONCALL_HANDLE}" in blocks
    assert f"over threshold for 3 consecutive days ({days[1]} to {days[3]})" in paged["text"]
    # the trend: the rolling WAPE on each day of the streak, rising as shifted days fill the window
    wape_trend = re.search(r"rolling WAPE at horizon 1: \S+ > threshold 0\.3; trend (.*?)(; |$)", paged["text"]).group(1)
    trend = [float(v) for v in re.findall(r"\d\d-\d\d (\d\.\d{3})", wape_trend)]
    assert len(trend) == 3 and trend == sorted(trend) and trend[0] > 0.3
    # The shifted inputs drift too: units_sold's PSI rises with each shifted day in the latest week. (Whether it
    # crosses 0.25 by the third day depends on the seeded days; its rise does not.)
    psis = [float(athena_rows(pipeline, "SELECT psi FROM input_drift WHERE dt = ? AND feature = 'units_sold'", d)
                  ["psi"].iloc[0]) for d in days]
    assert psis == sorted(psis) and psis[0] < 0.05 < psis[-1], psis
    print("alert sequence:", json.dumps([(str(d), [m["text"] for m in messages[d]]) for d in days], indent=1))


def test_a_failed_query_pages_once_to_the_forecasts_on_call_and_publishes_nothing(pipeline, published):
    """Athena refuses every query: the measuring tasks fail after their retries, one page goes to the channel
    of the `demand_forecast_env` Variable (the monitor has none of its own, and needs none), and no partition
    is written for the day."""
    from sandbox.profile import SLACK_CHANNEL

    day = A1 - timedelta(days=5)
    with pipeline.faults() as sandbox:
        # A client error, which botocore does not retry itself: the task's own retries are what is tested.
        sandbox.fail_calls("athena", "StartQueryExecution", "InvalidRequestException", count=None)
        code, log, seconds = run_monitoring(pipeline, day)
    print(f"failed forecast_monitoring {day}: {seconds:.1f} s")
    assert code != 0
    messages = alerts(pipeline, day)
    # Both measuring tasks fail: the first to fail pages, the other replies in the run's thread without a mention.
    [page] = [m for m in messages if m.get("thread_ts") in (None, m["ts"])]
    replies = [m for m in messages if m is not page]
    assert len(replies) == 1 and replies[0]["thread_ts"] == page["ts"]
    assert ONCALL_HANDLE in json.dumps(page["blocks"]) and ONCALL_HANDLE not in json.dumps(replies[0]["blocks"])
    assert re.search(r"forecast_monitoring\.measure_(accuracy|drift) failed for " + str(day), page["text"])
    assert "InvalidRequestException" in page["text"] and "try 4/4" in page["text"]
    assert page["channel_name"] == SLACK_CHANNEL.lstrip("#") and "Configuration problem" not in json.dumps(page["blocks"])
    glue = pipeline.sandbox.boto3_client("glue")
    for table in ("forecast_accuracy", "input_drift"):
        assert glue.get_partitions(DatabaseName=FORECAST_DATABASE, TableName=table,
                                   Expression=f"dt = '{day}'")["Partitions"] == [], table
