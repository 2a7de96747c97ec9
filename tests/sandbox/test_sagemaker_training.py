"""Training jobs run the script-mode contract through the official sagemaker-training toolkit."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.jobs.sm_support import (
    get,
    keys,
    log_messages,
    make_bucket,
    put,
    training_request,
    untar,
    upload_sourcedir,
    wait,
    wait_for,
)

TRAIN_CSV = "x1,x2,y\n1,0,2\n2,1,5\n3,0,6\n4,1,9\n"  # y = 2*x1 + x2
METRICS = [
    {"Name": "train:loss", "Regex": r"train_loss=([0-9.]+)"},
    {"Name": "rmse", "Regex": r"rmse=([0-9.]+)"},
    {"Name": "never", "Regex": r"validation_auc=([0-9.]+)"},
]


@pytest.fixture
def bucket(aws, unique):
    name = make_bucket(aws, f"{unique}-train")
    put(aws, name, "data/train/part-0.csv", TRAIN_CSV)
    put(aws, name, "data/train/nested/part-1.csv", "x1,x2,y\n5,0,10\n")
    put(aws, name, "data/validation/v.csv", "x1,x2,y\n6,1,13\n")
    return name


def job(aws, bucket: str, name: str, **kwargs):
    source = upload_sourcedir(aws, bucket, "code/sourcedir.tar.gz", "train_src")
    kwargs.setdefault(
        "channels", {"train": f"s3://{bucket}/data/train", "validation": f"s3://{bucket}/data/validation/"}
    )
    return training_request(name, bucket, source, **kwargs)


def test_script_mode_contract_and_artifacts(aws, bucket, unique):
    sm = aws("sagemaker")
    request = job(
        aws,
        bucket,
        unique,
        hyperparameters={"epochs": 3, "learning-rate": 0.05, "label": "y"},
        metrics=METRICS,
        Environment={"CUSTOM_SETTING": "on"},
    )
    sm.create_training_job(**request)
    done = wait(sm, "training", unique)
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")

    artifact = f"s3://{bucket}/models/{unique}/output/model.tar.gz"
    assert done["ModelArtifacts"] == {"S3ModelArtifacts": artifact}
    assert keys(aws, bucket, f"models/{unique}/") == [
        f"models/{unique}/output/model.tar.gz",
        f"models/{unique}/output/output.tar.gz",
    ]
    model = untar(get(aws, bucket, f"models/{unique}/output/model.tar.gz"))
    assert sorted(model) == ["contract.json", "model.joblib"]
    assert untar(get(aws, bucket, f"models/{unique}/output/output.tar.gz")) == {"report.txt": b"rows=5\n"}

    contract = json.loads(model["contract.json"])
    # hyperparameters arrive JSON-decoded, as sorted CLI arguments and as SM_HP_* variables
    assert contract["argv"] == ["--epochs", "3", "--label", "y", "--learning-rate", "0.05"]
    env = contract["env"]
    assert (env["SM_HP_EPOCHS"], env["SM_HP_LEARNING-RATE"], env["SM_HP_LABEL"]) == ("3", "0.05", "y")
    assert json.loads(env["SM_HPS"]) == {"epochs": 3, "label": "y", "learning-rate": 0.05}
    assert json.loads(env["SM_CHANNELS"]) == ["train", "validation"]
    assert env["SM_CHANNEL_TRAIN"].endswith(f"/jobs/training/{unique}/input/data/train")
    assert env["SM_MODEL_DIR"].endswith(f"/jobs/training/{unique}/model")
    assert env["SM_OUTPUT_DATA_DIR"].endswith(f"/jobs/training/{unique}/output/data")
    assert int(env["SM_NUM_CPUS"]) >= 1
    assert env["SM_CURRENT_HOST"] == "algo-1"
    assert env["TRAINING_JOB_NAME"] == unique
    assert contract["custom"] == "on"
    assert contract["files"] == ["nested/part-1.csv", "part-0.csv"]
    assert contract["validation_files"] == ["v.csv"]
    assert contract["coef"] == [2.0, 1.0]

    metrics = {m["MetricName"]: m for m in done["FinalMetricDataList"]}
    assert sorted(metrics) == ["rmse", "train:loss"]  # no line matched "never"
    assert metrics["train:loss"]["Value"] == pytest.approx(0.3333)
    assert metrics["rmse"]["Value"] == pytest.approx(0.1667)
    assert done["TrainingStartTime"] <= metrics["rmse"]["Timestamp"] <= done["TrainingEndTime"]


def test_describe_echoes_the_request_and_tracks_secondary_status(aws, bucket, unique):
    sm = aws("sagemaker")
    request = job(aws, bucket, unique, metrics=METRICS, Tags=[{"Key": "team", "Value": "forecast"}])
    arn = sm.create_training_job(**request)["TrainingJobArn"]
    first = sm.describe_training_job(TrainingJobName=unique)
    assert (first["TrainingJobStatus"], first["SecondaryStatus"]) == ("InProgress", "Starting")
    done = wait(sm, "training", unique)

    assert done["HyperParameters"] == request["HyperParameters"]
    assert done["AlgorithmSpecification"]["MetricDefinitions"] == METRICS
    assert done["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}
    assert "Tags" not in done
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "forecast"}]
    transitions = [t["Status"] for t in done["SecondaryStatusTransitions"]]
    assert transitions == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert all("EndTime" in t for t in done["SecondaryStatusTransitions"])
    assert done["BillableTimeInSeconds"] == done["TrainingTimeInSeconds"] >= 1
    summary = sm.list_training_jobs(NameContains=unique)["TrainingJobSummaries"]
    assert [(s["TrainingJobName"], s["TrainingJobStatus"], s["SecondaryStatus"]) for s in summary] == [
        (unique, "Completed", "Completed")
    ]


def test_logs_are_readable_the_way_the_airflow_provider_reads_them(aws, bucket, unique):
    sm = aws("sagemaker")
    sm.create_training_job(**job(aws, bucket, unique, hyperparameters={"epochs": 2}))
    created = time.monotonic()
    in_progress = sm.describe_training_job(TrainingJobName=unique)["TrainingJobStatus"]
    to_in_progress = time.monotonic() - created
    wait_for(
        lambda: any("epoch=1" in m for m in _maybe_logs(aws, unique)), timeout=30, what="first epoch line"
    )
    to_first_line = time.monotonic() - created
    print(
        f"\nCreateTrainingJob -> InProgress: {to_in_progress:.3f}s; -> script's first log line: "
        f"{to_first_line:.3f}s"
    )
    assert in_progress == "InProgress"

    wait(sm, "training", unique)
    streams = aws("logs").describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs",
        logStreamNamePrefix=unique + "/",
        orderBy="LogStreamName",
        limit=1,
    )["logStreams"]
    assert len(streams) == 1
    assert streams[0]["logStreamName"].startswith(f"{unique}/algo-1-")
    messages = log_messages(aws, "/aws/sagemaker/TrainingJobs", unique)
    assert "epoch=1 train_loss=1.0000 rmse=0.5000" in messages
    assert "progress to stderr" in messages
    assert any("Reporting training SUCCESS" in m for m in messages)  # the toolkit's own logging


def _maybe_logs(aws, job_name: str) -> list[str]:
    try:
        return log_messages(aws, "/aws/sagemaker/TrainingJobs", job_name)
    except ClientError:
        return []  # the log group appears with the first job's first line


def test_a_failing_script_reports_the_toolkits_failure_with_exit_code(aws, bucket, unique):
    sm = aws("sagemaker")
    sm.create_training_job(**job(aws, bucket, unique, hyperparameters={"fail": "yes"}))
    done = wait(sm, "training", unique)

    assert done["TrainingJobStatus"] == "Failed"
    assert done["SecondaryStatus"] == "Failed"
    reason = done["FailureReason"]
    assert reason.startswith("AlgorithmError: ")
    assert reason.endswith(", exit code: 1")
    # The toolkit reads the script's stderr in chunks, and Python writes "RuntimeError", ": " and the
    # message separately, so on a busy machine they can land on separate lines, on AWS as here.
    assert "RuntimeError" in reason
    assert "training data is corrupt: expected 2 columns" in reason
    assert "ExitCode 1" in reason
    assert keys(aws, bucket, f"models/{unique}/") == []


def test_training_over_max_runtime_stops_with_max_runtime_exceeded(aws, bucket, unique):
    sm = aws("sagemaker")
    sm.create_training_job(
        **job(
            # long enough for the toolkit to start and the script to save its checkpoint on a busy 2-core box
            aws, bucket, unique, hyperparameters={"sleep": 60}, StoppingCondition={"MaxRuntimeInSeconds": 10}
        )
    )
    done = wait(sm, "training", unique, timeout=45)

    assert (done["TrainingJobStatus"], done["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")
    assert done["SecondaryStatusTransitions"][-1]["StatusMessage"] == (
        "Training job runtime exceeded MaxRuntimeInSeconds provided"
    )
    assert "FailureReason" not in done
    # what the script saved before it was stopped is kept, as SageMaker uploads model/ on stop
    assert untar(get(aws, bucket, f"models/{unique}/output/model.tar.gz")) == {
        "checkpoint.txt": b"partial model"
    }


def test_stop_uploads_what_the_script_saved_and_ends_stopped(aws, bucket, unique):
    sm = aws("sagemaker")
    sm.create_training_job(**job(aws, bucket, unique, hyperparameters={"sleep": 60}))
    wait_for(
        lambda: any("checkpoint written" in m for m in _maybe_logs(aws, unique)),
        timeout=30,
        what="the script to start sleeping",
    )
    sm.stop_training_job(TrainingJobName=unique)
    stopping = sm.describe_training_job(TrainingJobName=unique)
    assert (stopping["TrainingJobStatus"], stopping["SecondaryStatus"]) == ("Stopping", "Stopping")
    done = wait(sm, "training", unique, timeout=20)
    assert (done["TrainingJobStatus"], done["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert [t["Status"] for t in done["SecondaryStatusTransitions"]][-2:] == ["Stopping", "Stopped"]
    assert untar(get(aws, bucket, f"models/{unique}/output/model.tar.gz")) == {
        "checkpoint.txt": b"partial model"
    }
    with pytest.raises(ClientError) as caught:
        sm.stop_training_job(TrainingJobName=unique)
    assert caught.value.response["Error"]["Message"] == (
        "The request was rejected because the training job is in status Stopped."
    )


def test_create_refuses_missing_data_and_non_script_mode(aws, bucket, unique):
    sm = aws("sagemaker")
    missing = job(aws, bucket, unique, channels={"train": f"s3://{bucket}/data/nothing-here/"})
    with pytest.raises(ClientError) as caught:
        sm.create_training_job(**missing)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["Error"]["Message"].startswith(
        f'No S3 objects found under S3 URL "s3://{bucket}/data/nothing-here/" given in input data source.'
    )

    image_code = job(aws, bucket, unique)
    del image_code["HyperParameters"]["sagemaker_program"]
    with pytest.raises(ClientError) as caught:
        sm.create_training_job(**image_code)
    assert (
        "the sandbox does not emulate training images' own code" in caught.value.response["Error"]["Message"]
    )

    pipe = job(aws, bucket, unique)
    pipe["AlgorithmSpecification"]["TrainingInputMode"] = "Pipe"
    with pytest.raises(ClientError) as caught:
        sm.create_training_job(**pipe)
    assert "the sandbox does not emulate TrainingInputMode=Pipe" in caught.value.response["Error"]["Message"]

    with pytest.raises(ClientError) as caught:
        sm.describe_training_job(TrainingJobName=unique)
    assert caught.value.response["Error"]["Message"] == "Requested resource not found."
