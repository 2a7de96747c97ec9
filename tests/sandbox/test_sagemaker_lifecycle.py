"""Job lifecycle semantics shared by all job types: names, Stop, faults, listing, concurrency, status."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import start_sandbox, stop_sandbox
from tests.sandbox.jobs.sm_support import (
    JOBS,
    describe,
    get,
    make_bucket,
    processing_request,
    s3_output,
    training_request,
    upload_script,
    wait,
    wait_for,
)


@pytest.fixture
def bucket(aws, unique):
    return make_bucket(aws, f"{unique}-life")


def sleeper_job(aws, bucket: str, name: str, pid_file: Path, *args: str, **extra):
    code = upload_script(aws, bucket, "code/sleeper.py", "sleeper.py")
    return processing_request(name, bucket, code, [str(pid_file), *args], **extra)


def quick_job(aws, bucket: str, name: str, **extra):
    code = upload_script(aws, bucket, "code/stamp.py", "stamp.py")
    return processing_request(
        name,
        bucket,
        code,
        ["/opt/ml/processing/output", "0"],
        outputs=[s3_output("out", f"s3://{bucket}/{name}", "/opt/ml/processing/output")],
        **extra,
    )


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for its reaper counts as exited)."""
    stat = Path(f"/proc/{pid}/stat")
    if stat.parent.parent.exists():
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
        except FileNotFoundError:
            return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_job_names_are_unique_per_type_in_an_account_and_region(aws, bucket, unique):
    sm = aws("sagemaker")
    arn = sm.create_processing_job(**quick_job(aws, bucket, unique))["ProcessingJobArn"]
    with pytest.raises(ClientError) as caught:
        sm.create_processing_job(**quick_job(aws, bucket, unique))
    assert caught.value.response["Error"] == {
        "Code": "ResourceInUse",
        "Message": "Processing job names must be unique within an AWS account and region, "
        f"and a processing job with this name already exists ({arn})",
    }
    # another region is another namespace
    other = aws("sagemaker", region_name="eu-west-1")
    other_arn = other.create_processing_job(**quick_job(aws, bucket, unique))["ProcessingJobArn"]
    assert other_arn == f"arn:aws:sagemaker:eu-west-1:123456789012:processing-job/{unique}"
    assert wait(other, "processing", unique)["ProcessingJobStatus"] == "Completed"
    assert wait(sm, "processing", unique)["ProcessingJobStatus"] == "Completed"


def test_stop_terminates_the_whole_process_group(aws, bucket, unique, tmp_path):
    sm = aws("sagemaker")
    sm.create_processing_job(**sleeper_job(aws, bucket, unique, tmp_path / "pids.json"))
    pids = wait_for(
        lambda: (tmp_path / "pids.json").exists() and json.loads((tmp_path / "pids.json").read_text()),
        timeout=20,
        what="the job to start",
    )
    assert not gone(pids["pid"]) and not gone(pids["child"])

    sm.stop_processing_job(ProcessingJobName=unique)
    assert sm.describe_processing_job(ProcessingJobName=unique)["ProcessingJobStatus"] == "Stopping"
    done = wait(sm, "processing", unique, timeout=20)
    assert done["ProcessingJobStatus"] == "Stopped"
    assert gone(pids["pid"]) and gone(pids["child"])
    with pytest.raises(ClientError) as caught:
        sm.stop_processing_job(ProcessingJobName=unique)
    assert caught.value.response["Error"]["Message"] == (
        "The request was rejected because the processing job is in status Stopped."
    )


def test_stop_kills_a_script_that_ignores_sigterm(aws, bucket, unique, tmp_path):
    sm = aws("sagemaker")
    sm.create_processing_job(**sleeper_job(aws, bucket, unique, tmp_path / "pids.json", "--ignore-term"))
    pids = wait_for(
        lambda: (tmp_path / "pids.json").exists() and json.loads((tmp_path / "pids.json").read_text()),
        timeout=20,
        what="the job to start",
    )
    stopped_at = time.monotonic()
    sm.stop_processing_job(ProcessingJobName=unique)
    assert wait(sm, "processing", unique, timeout=20)["ProcessingJobStatus"] == "Stopped"
    assert time.monotonic() - stopped_at >= 2.5  # the grace period passed before SIGKILL
    assert gone(pids["pid"]) and gone(pids["child"])


def test_stopping_a_job_that_waits_to_start_never_runs_it(aws, sandbox, bucket, unique, tmp_path):
    sandbox.client.slow_job(unique, delay_seconds=30)
    sm = aws("sagemaker")
    sm.create_processing_job(**sleeper_job(aws, bucket, unique, tmp_path / "pids.json"))
    sm.stop_processing_job(ProcessingJobName=unique)
    assert wait(sm, "processing", unique, timeout=10)["ProcessingJobStatus"] == "Stopped"
    assert not (tmp_path / "pids.json").exists()


def test_job_faults_fail_with_the_given_reason_or_delay_the_start(aws, sandbox, bucket, unique):
    sm = aws("sagemaker")
    sandbox.client.fail_job(
        f"{unique}-fail*", "CapacityError: Unable to provision requested ML compute capacity."
    )
    sm.create_processing_job(**quick_job(aws, bucket, f"{unique}-fail-1"))
    failed = wait(sm, "processing", f"{unique}-fail-1")
    assert failed["ProcessingJobStatus"] == "Failed"
    assert failed["FailureReason"] == "CapacityError: Unable to provision requested ML compute capacity."
    # the fault had count 1: the next job runs normally
    sm.create_processing_job(**quick_job(aws, bucket, f"{unique}-fail-2"))
    assert wait(sm, "processing", f"{unique}-fail-2")["ProcessingJobStatus"] == "Completed"
    # the failed job's script never ran, so it never logged
    streams = aws("logs").describe_log_streams(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=f"{unique}-fail-"
    )["logStreams"]
    assert [s["logStreamName"].split("/")[0] for s in streams] == [f"{unique}-fail-2"]

    sandbox.client.slow_job(f"{unique}-slow", delay_seconds=1.5)
    sm.create_processing_job(**quick_job(aws, bucket, f"{unique}-slow"))
    slow = wait(sm, "processing", f"{unique}-slow")
    assert slow["ProcessingJobStatus"] == "Completed"
    assert (slow["ProcessingStartTime"] - slow["CreationTime"]).total_seconds() >= 1.5
    stamp = json.loads(get(aws, bucket, f"{unique}-slow/stamp.json"))
    assert stamp["start"] - slow["CreationTime"].timestamp() >= 1.5


def test_list_filters_sorts_and_pages(aws, sandbox, bucket, unique):
    sm = aws("sagemaker")
    sandbox.client.fail_job(f"{unique}-b", "injected")
    before = time.time()
    for suffix in ("a", "b", "c"):
        sm.create_processing_job(**quick_job(aws, bucket, f"{unique}-{suffix}"))
        time.sleep(0.05)
    for suffix in ("a", "b", "c"):
        wait(sm, "processing", f"{unique}-{suffix}")

    def names(**kwargs):
        return [
            j["ProcessingJobName"]
            for j in sm.list_processing_jobs(NameContains=unique, **kwargs)["ProcessingJobSummaries"]
        ]

    assert names() == [f"{unique}-a", f"{unique}-b", f"{unique}-c"]  # CreationTime, Ascending by default
    assert names(SortBy="Name", SortOrder="Descending") == [f"{unique}-c", f"{unique}-b", f"{unique}-a"]
    assert names(StatusEquals="Failed") == [f"{unique}-b"]
    assert names(StatusEquals="Completed", SortBy="Status") == [f"{unique}-a", f"{unique}-c"]
    assert names(CreationTimeBefore=before) == []
    created_b = sm.describe_processing_job(ProcessingJobName=f"{unique}-b")["CreationTime"]
    assert names(CreationTimeAfter=created_b) == [f"{unique}-c"]
    assert names(LastModifiedTimeAfter=time.time() + 60) == []

    first = sm.list_processing_jobs(NameContains=unique, MaxResults=2, SortBy="Name")
    assert [j["ProcessingJobName"] for j in first["ProcessingJobSummaries"]] == [f"{unique}-a", f"{unique}-b"]
    rest = sm.list_processing_jobs(
        NameContains=unique, MaxResults=2, SortBy="Name", NextToken=first["NextToken"]
    )
    assert [j["ProcessingJobName"] for j in rest["ProcessingJobSummaries"]] == [f"{unique}-c"]
    assert "NextToken" not in rest
    paginated = [
        j["ProcessingJobName"]
        for page in sm.get_paginator("list_processing_jobs").paginate(
            NameContains=unique, PaginationConfig={"PageSize": 1}
        )
        for j in page["ProcessingJobSummaries"]
    ]
    assert paginated == [f"{unique}-a", f"{unique}-b", f"{unique}-c"]
    assert sm.list_transform_jobs(NameContains=unique)["TransformJobSummaries"] == []
    assert sm.list_training_jobs(NameContains=unique)["TrainingJobSummaries"] == []


def most_at_once(intervals: list[dict[str, float]]) -> int:
    # At equal times an end sorts before a start: back-to-back jobs did not overlap.
    events = sorted([(i["start"], 1) for i in intervals] + [(i["end"], -1) for i in intervals])
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def test_quota_refuses_jobs_beyond_it_per_job_type(tmp_path):
    """--max-concurrent-jobs is an account quota per job type: the Create beyond it is refused with
    ResourceLimitExceeded (not queued), a job of another type is still accepted, and a slot frees when a job
    ends -- Stopped included."""
    proc, handle = start_sandbox(tmp_path, "--max-concurrent-jobs", "2")
    try:
        s3 = handle.boto3_client("s3")
        sm = handle.boto3_client("sagemaker", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
        s3.create_bucket(Bucket="quota")
        code = "s3://quota/code/sleeper.py"
        s3.put_object(Bucket="quota", Key="code/sleeper.py", Body=(JOBS / "sleeper.py").read_bytes())
        pid = str(tmp_path / "pid")
        for name in ("quota-1", "quota-2"):
            sm.create_processing_job(**processing_request(name, "quota", code, [pid + name, "60"]))
        with pytest.raises(ClientError) as err:
            sm.create_processing_job(**processing_request("quota-3", "quota", code, [pid + "3", "60"]))
        error = err.value.response["Error"]
        assert error["Code"] == "ResourceLimitExceeded"
        assert "is 2 processing jobs, with current utilization of 2 processing jobs" in error["Message"]
        with pytest.raises(ClientError):
            sm.describe_processing_job(ProcessingJobName="quota-3")  # nothing was created
        # another job type has its own quota
        sm.create_training_job(**training_request("quota-t", "quota", code,
                                                  channels={"train": code}))
        sm.stop_processing_job(ProcessingJobName="quota-1")
        wait(sm, "processing", "quota-1")
        sm.create_processing_job(**processing_request("quota-3", "quota", code, [pid + "3", "60"]))
        assert handle.client.status()["sagemaker"]["excess_jobs"] == "refused (ResourceLimitExceeded)"
        assert handle.client.stats()["shape_violations"] == []
    finally:
        stop_sandbox(proc)


def test_concurrency_limit_is_respected_and_the_peak_reported(tmp_path):
    """With --queue-excess-jobs (not AWS's behaviour, kept as an option) the jobs beyond the limit wait."""
    proc, handle = start_sandbox(tmp_path, "--max-concurrent-jobs", "2", "--queue-excess-jobs")
    try:
        s3 = handle.boto3_client("s3")
        sm = handle.boto3_client("sagemaker")
        s3.create_bucket(Bucket="limits")
        code = "s3://limits/code/stamp.py"
        s3.put_object(Bucket="limits", Key="code/stamp.py", Body=(JOBS / "stamp.py").read_bytes())
        names = [f"limit-{i}" for i in range(5)]
        for name in names:
            sm.create_processing_job(
                **processing_request(
                    name,
                    "limits",
                    code,
                    ["/opt/ml/processing/output", "1"],
                    outputs=[s3_output("out", f"s3://limits/{name}", "/opt/ml/processing/output")],
                )
            )
        # the jobs beyond the limit wait InProgress, as jobs wait for instances on AWS
        assert {describe(sm, "processing", n)["ProcessingJobStatus"] for n in names} == {"InProgress"}
        samples = []

        def all_completed() -> bool:
            samples.append(handle.client.status()["sagemaker"]["running_jobs"])
            return all(describe(sm, "processing", n)["ProcessingJobStatus"] == "Completed" for n in names)

        wait_for(all_completed, timeout=30, what="every job to complete")

        stamps = [
            json.loads(s3.get_object(Bucket="limits", Key=f"{n}/stamp.json")["Body"].read()) for n in names
        ]
        assert most_at_once(stamps) == 2
        assert max(samples) <= 2
        status = handle.client.status()["sagemaker"]
        assert (status["peak_concurrent_jobs"], status["max_concurrent_jobs"], status["running_jobs"]) == (
            2,
            2,
            0,
        )
        assert status["jobs"]["processing"] == {"Completed": 5}
        assert handle.client.stats()["shape_violations"] == []
    finally:
        stop_sandbox(proc)


def test_status_counts_jobs_and_registry_resources(sandbox, aws, bucket, unique):
    sm = aws("sagemaker")
    before = sandbox.client.status()["sagemaker"]
    sm.create_processing_job(**quick_job(aws, bucket, unique))
    sm.create_model_package_group(ModelPackageGroupName=unique)
    wait(sm, "processing", unique)
    after = sandbox.client.status()["sagemaker"]
    completed = after["jobs"]["processing"]["Completed"] - before["jobs"]["processing"].get("Completed", 0)
    assert completed == 1
    assert after["model_package_groups"] == before["model_package_groups"] + 1


def test_reset_and_server_shutdown_stop_running_jobs(tmp_path):
    (tmp_path / "state").mkdir()
    proc, handle = start_sandbox(tmp_path / "state")
    try:
        s3, sm = handle.boto3_client("s3"), handle.boto3_client("sagemaker")
        s3.create_bucket(Bucket="resets")
        s3.put_object(Bucket="resets", Key="code/sleeper.py", Body=(JOBS / "sleeper.py").read_bytes())

        def start_sleeper(name: str) -> dict[str, int]:
            pid_file = tmp_path / f"{name}.json"
            sm.create_processing_job(
                **processing_request(name, "resets", "s3://resets/code/sleeper.py", [str(pid_file)])
            )
            return wait_for(
                lambda: pid_file.exists() and json.loads(pid_file.read_text()),
                timeout=20,
                what=f"{name} to start",
            )

        pids = start_sleeper("before-reset")
        handle.client.reset()
        assert gone(pids["pid"]) and gone(pids["child"])
        status = handle.client.status()["sagemaker"]
        assert (status["jobs"], status["running_jobs"], status["peak_concurrent_jobs"]) == (
            {"processing": {}, "training": {}, "transform": {}},
            0,
            0,
        )
        assert sm.list_processing_jobs()["ProcessingJobSummaries"] == []
        assert not (tmp_path / "state" / "jobs").exists()

        s3.create_bucket(Bucket="resets")  # reset emptied S3 too
        s3.put_object(Bucket="resets", Key="code/sleeper.py", Body=(JOBS / "sleeper.py").read_bytes())
        pids = start_sleeper("at-shutdown")
        assert handle.client.stats()["shape_violations"] == []
    finally:
        stop_sandbox(proc)
    assert proc.returncode == 0
    assert gone(pids["pid"]) and gone(pids["child"])
    assert "sandbox stopped" in handle.log_tail()
