"""demand_forecast end to end: real `airflow dags test` runs against the real sandbox, which runs the
Athena SQL, the SageMaker job scripts and the registry for real. Assertions read the results back
through S3, Glue, Athena and SageMaker, as an analyst or on-call engineer would."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import yaml

from tests.e2e.conftest import LAST_DAY, alerts

pytestmark = pytest.mark.e2e

D = LAST_DAY - timedelta(days=1)  # LAST_DAY itself is left for the champion test, which needs D's model


@pytest.fixture(scope="module")
def lineage_file(tmp_path_factory):
    return tmp_path_factory.mktemp("openlineage") / "events.jsonl"


@pytest.fixture(scope="module")
def first_run(pipeline, lineage_file):
    # The OpenLineage provider's own listener, with its file transport: what a Marquez or DataHub would get.
    transport = json.dumps({"type": "file", "log_file_path": str(lineage_file), "append": True})
    code, log = pipeline.dags_test(D, AIRFLOW__OPENLINEAGE__TRANSPORT=transport,
                                   AIRFLOW__OPENLINEAGE__NAMESPACE="batchml-e2e")
    assert code == 0, log[-5000:]
    # Task states now: a later `dags test` of the same day replaces this run and its task instances.
    return pipeline.inspect(D), log, pipeline.task_states(log)


def test_one_partition_produces_everything_downstream_needs(pipeline, first_run):
    report, log, states = first_run
    series = report["evaluation"]["holdout"]["series"]
    assert series >= 500
    assert report["extract"]["training_rows"] > 250_000 and report["extract"]["scoring_rows"] == series * 7
    # predictions rows = series x horizon, registered and readable through Athena
    assert report["prediction_rows"] == series * 7
    assert report["predictions"]["series"] == series
    assert (report["predictions"]["first_day"], report["predictions"]["last_day"]) == (
        (D + timedelta(days=1)).isoformat(), (D + timedelta(days=7)).isoformat())
    assert report["partition"]["location"].endswith(f"/predictions/dt={D}/demand-forecast-predict-{D:%Y%m%d}-1/")
    assert report["model_versions_for_partition"] == 1
    assert report["model_package"]["status"] == "Approved"
    assert report["gate"] == "challenger approved"
    assert all(state == "success" for task, state in states.items() if task != "keep_champion")
    assert states["keep_champion"] == "skipped"
    assert alerts(pipeline, D) == []


def test_evaluation_is_sane(first_run):
    evaluation = first_run[0]["evaluation"]
    models = evaluation["models"]
    assert evaluation["partition_date"] == D.isoformat()
    assert evaluation["holdout"]["last_day"] == D.isoformat()
    assert 0 < models["challenger"]["wape"] < models["baseline"]["wape"] < 1.5
    assert abs(models["challenger"]["bias"]) < 0.2
    assert models["challenger"]["rows"] == evaluation["holdout"]["rows"] > 3000
    assert models["champion"] is None  # nothing was approved before D


def test_predictions_are_a_csv_partition_analysts_can_query(pipeline, first_run):
    from tools.inspect_run import athena_query

    athena = pipeline.sandbox.boto3_client("athena")
    rows = athena_query(athena, "SELECT store_id, item_id, forecast_date, horizon_days, predicted_units "
                        "FROM predictions WHERE dt = ? ORDER BY store_id, item_id, horizon_days LIMIT 3",
                        database="demand_forecast", workgroup="demand_forecast", params=[f"'{D}'"])
    assert rows[0] == ["store_id", "item_id", "forecast_date", "horizon_days", "predicted_units"]
    assert rows[1][:4] == ["S01", "I001", (D + timedelta(days=1)).isoformat(), "1"]
    assert float(rows[1][4]) >= 0


def test_model_version_carries_metrics_partition_and_run(pipeline, first_run):
    sm = pipeline.sandbox.boto3_client("sagemaker")
    pkg = sm.describe_model_package(ModelPackageName=first_run[0]["model_package"]["arn"])
    meta = pkg["CustomerMetadataProperties"]
    assert meta["partition_date"] == D.isoformat() and meta["dag_run_id"].startswith("manual__")
    assert float(meta["challenger_wape"]) == pytest.approx(first_run[0]["evaluation"]["models"]["challenger"]["wape"])
    assert pkg["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith("/evaluation.json")


def test_asset_event_for_the_partition(pipeline, first_run):
    events = [{"extra": json.loads(extra), "partition_key": key}
              for extra, key in pipeline.query("SELECT extra, partition_key FROM asset_event")]
    mine = [e for e in events if e["extra"].get("partition") == f"dt='{D}'"]
    assert mine and mine[0]["extra"]["table"] == "demand_forecast.predictions"
    assert mine[0]["partition_key"] == D.isoformat()


def test_openlineage_events_name_each_steps_inputs_and_outputs(pipeline, first_run, lineage_file):
    """The provider's listener, through its file transport, gets from our operators what the provider's own
    operators report: tables read and prefix written by the extraction, each job's S3 inputs and outputs,
    and the published Glue table; one dataset's name is the same where one step writes it and the next
    reads it, so the graph is connected."""
    events = [json.loads(line) for line in lineage_file.read_text().splitlines()]
    complete = {e["job"]["name"].split(".", 1)[1]: e for e in events
                if e["eventType"] == "COMPLETE" and e["job"]["name"].startswith("demand_forecast.")}

    def names(task: str, side: str) -> list[str]:
        return [f"{d['namespace']}/{d['name']}" for d in complete[task][side]]

    from sandbox import profile

    athena = "awsathena://athena.us-east-1.amazonaws.com/AwsDataCatalog"
    raw = f"{athena}.{profile.RAW_DATABASE}"
    assert names("extract_training", "inputs") == [f"{raw}.calendar", f"{raw}.sales"]
    [extract] = names("extract_training", "outputs")
    assert extract.startswith(f"s3://{profile.BUCKET}/") and extract.endswith(f"/extract/dt={D}/training")
    assert complete["extract_training"]["run"]["facets"]["externalQuery"]["source"] == "awsathena"
    assert set(names("extract_training", "outputs")) <= set(names("preprocess", "inputs"))
    assert set(names("preprocess", "outputs")) & set(names("train", "inputs"))
    [model] = names("train", "outputs")
    assert model.endswith("/model.tar.gz")
    [predictions] = names("batch_predict", "outputs")
    assert names("publish_predictions", "inputs") == [predictions]
    assert names("publish_predictions", "outputs") == [f"{athena}.{profile.FORECAST_DATABASE}.predictions"]
    assert predictions.startswith(f"s3://{profile.BUCKET}/")


def test_same_partition_twice_leaves_one_partition_and_one_version(pipeline, first_run):
    before = first_run[0]
    code, log = pipeline.dags_test(D)
    assert code == 0, log[-5000:]
    after = pipeline.inspect(D)
    assert after["model_versions_for_partition"] == 1
    assert after["model_package"]["arn"] != before["model_package"]["arn"]  # replaced, not added
    assert after["partition"]["location"].endswith(f"demand-forecast-predict-{D:%Y%m%d}-2/")
    assert after["prediction_rows"] == before["prediction_rows"]
    glue = pipeline.sandbox.boto3_client("glue")
    parts = glue.get_partitions(DatabaseName="demand_forecast", TableName="predictions",
                                Expression=f"dt = '{D}'")["Partitions"]
    assert len(parts) == 1
    # The rerun replaced the extract rather than adding to it.
    assert after["extract"] == before["extract"]


def test_rejected_challenger_keeps_the_champion_and_warns_without_paging(pipeline, first_run, tmp_path):
    settings = pipeline.settings()
    # One boosting iteration: a new model far worse than the champion, which still qualifies itself (the
    # champion predicts only if it meets max_wape and beats the baseline on this holdout too).
    settings["model"]["hyperparameters"]["max_iter"] = 1
    (tmp_path / "demand_forecast.yaml").write_text(yaml.safe_dump(settings))
    code, log = pipeline.dags_test(LAST_DAY, BATCHML_CONFIG_DIR=str(tmp_path))
    assert code == 0, log[-5000:]
    report = pipeline.inspect(LAST_DAY)
    states = pipeline.task_states(log)
    assert states["register_model"] == "skipped" and states["keep_champion"] == "success"
    assert report["model_versions_for_partition"] == 0
    assert report["evaluation"]["models"]["champion"]["wape"] is not None
    assert report["prediction_rows"] == report["evaluation"]["holdout"]["series"] * 7
    [warning] = alerts(pipeline, LAST_DAY)
    assert "champion kept" in warning["text"] and ":rotating_light:" not in json.dumps(warning["blocks"])


def test_training_failure_pages_once_and_publishes_nothing(pipeline):
    day = LAST_DAY - timedelta(days=2)
    reason = "AlgorithmError: injected by the test: out of memory"
    with pipeline.faults() as sandbox:
        sandbox.fail_job(f"demand-forecast-train-{day:%Y%m%d}-*", reason, count=None)
        code, log = pipeline.dags_test(day)
    assert code != 0
    states = pipeline.task_states(log)
    assert states["train"] == "failed"
    assert states["publish_predictions"] == "upstream_failed"
    # every try launched its own job (the earlier one had failed): retries + 1 jobs, none left running
    sm = pipeline.sandbox.boto3_client("sagemaker")
    jobs = sm.list_training_jobs(NameContains=f"demand-forecast-train-{day:%Y%m%d}")["TrainingJobSummaries"]
    assert len(jobs) == 4 and {j["TrainingJobStatus"] for j in jobs} == {"Failed"}
    [page] = alerts(pipeline, day)
    assert reason in page["text"] and "demand_forecast.train failed" in page["text"]
    assert "try 4/4" in page["text"] and "manual" in page["text"]
    blocks = json.dumps(page["blocks"])
    assert reason in blocks and "Task log" in blocks
    report = pipeline.inspect(day)
    assert report["partition"] is None and report["model_versions_for_partition"] == 0


def _fail_extraction(sandbox):
    """Athena refuses every query: extract_training fails after its retries, quickly."""
    sandbox.fail_calls("athena", "StartQueryExecution", "InternalServerException", count=None)


def test_slack_down_leaves_the_failure_as_it_is_and_logs_the_failed_alert(pipeline):
    day = LAST_DAY - timedelta(days=3)
    with pipeline.faults() as sandbox:
        _fail_extraction(sandbox)
        sandbox.slack_fault(status=500, count=None)
        code, log = pipeline.dags_test(day)
    assert code != 0
    states = pipeline.task_states(log)
    assert states["extract_training"] == "failed"  # the task's own outcome, unchanged by the alert failing
    assert "Slack alert failed (the task's own state is unchanged)" in log
    assert alerts(pipeline, day) == []
    assert "xoxb-sandbox-0000" not in log  # the token never reaches a log


def test_webhook_connection_pages_through_the_webhook(pipeline):
    import json as _json

    day = LAST_DAY - timedelta(days=4)
    webhook = {"conn_type": "slackwebhook", "host": f"{pipeline.sandbox.endpoint}/_sandbox/slack/services",
               "password": "T0SANDBOX/B0SANDBOX/e2e-webhook"}
    with pipeline.faults() as sandbox:
        _fail_extraction(sandbox)
        # A connection in the environment is looked up after the secrets backend: switch the backend off.
        code, log = pipeline.dags_test(day, AIRFLOW_CONN_SLACK_ONCALL=_json.dumps(webhook), AIRFLOW__SECRETS__BACKEND="")
    assert code != 0
    # The three Athena tasks (two extracts and the data profile) all fail; whichever fails first pages, the
    # others are counted, not posted.
    [page] = alerts(pipeline, day)
    assert page["via"] == "webhook" and re.search(r"(extract_training|extract_scoring|profile_extracts) failed", page["text"])
    assert "InternalServerException" in page["text"]
    assert "e2e-webhook" not in log


def test_demo_shows_one_line_per_task_and_copies_the_plot(pipeline, first_run, tmp_path):
    """What `make demo` prints while the run moves, from a real run's log, and the plot it copies out."""
    import io

    from tools.demo import Progress, fetch_plot

    report, log, states = first_run
    out = io.StringIO()
    progress = Progress(out=out)
    for line in log.splitlines():
        progress.feed(line)
    ended = {line.split()[1]: line.split()[0] for line in progress.lines if not line.lstrip().startswith("started")}
    # Every task that ran, with its final state, once; a branch-skipped task never starts, so it has no line.
    assert ended == {task: state for task, state in states.items() if state != "skipped"}
    assert sum(line.lstrip().startswith("started") for line in progress.lines) == len(ended)
    assert out.getvalue().splitlines() == progress.lines
    plot = fetch_plot(pipeline.sandbox.endpoint, report, tmp_path / "plot.png")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000
