"""Processing jobs in the sandbox really run their script on real S3 data, like SageMaker Processing."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.jobs.sm_support import (
    get,
    keys,
    log_messages,
    make_bucket,
    processing_request,
    put,
    s3_input,
    s3_output,
    upload_script,
    wait,
)

ARGS = [
    "--input",
    "/opt/ml/processing/input/data",
    "--output",
    "/opt/ml/processing/output",
    "--config",
    "/opt/ml/config/processingjobconfig.json",
]


@pytest.fixture
def bucket(aws, unique):
    return make_bucket(aws, f"{unique}-proc")


def csv_job(aws, bucket: str, name: str, **extra):
    code = upload_script(aws, bucket, "code/process_csv.py", "process_csv.py")
    return processing_request(
        name,
        bucket,
        code,
        ARGS,
        inputs=[s3_input("data", f"s3://{bucket}/raw/", "/opt/ml/processing/input/data")],
        outputs=[s3_output("result", f"s3://{bucket}/clean", "/opt/ml/processing/output")],
        **extra,
    )


def test_processing_job_runs_the_script_on_s3_data_and_uploads_its_outputs(aws, bucket, unique):
    put(aws, bucket, "raw/2026-11-20.csv", "id,value\n1,1.5\n2,4\n")
    put(aws, bucket, "raw/late/2026-11-19.csv", "id,value\n3,10\n")
    sm = aws("sagemaker")
    request = csv_job(
        aws, bucket, unique, Environment={"GREETING": "hello", "DATA_DIR": "/opt/ml/processing/input/data"}
    )
    arn = sm.create_processing_job(**request)["ProcessingJobArn"]

    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:processing-job/{unique}"
    assert sm.describe_processing_job(ProcessingJobName=unique)["ProcessingJobStatus"] == "InProgress"
    done = wait(sm, "processing", unique)

    assert done["ProcessingJobStatus"] == "Completed", done.get("FailureReason")
    assert done["ProcessingStartTime"] <= done["ProcessingEndTime"]
    assert done["Environment"] == request["Environment"]  # moto drops it
    assert done["AppSpecification"] == request["AppSpecification"]
    assert "Tags" not in done
    assert keys(aws, bucket, "clean/") == [
        "clean/2026-11-20.csv",
        "clean/late/2026-11-19.csv",
        "clean/summary.json",
    ]
    assert get(aws, bucket, "clean/late/2026-11-19.csv").decode().splitlines() == ["id,value", "3,20.0"]
    summary = json.loads(get(aws, bucket, "clean/summary.json"))
    assert summary["rows"] == 3
    assert summary["greeting"] == "hello"
    # /opt/ml in environment values points at the job's directory; the config file keeps AWS's paths
    assert summary["data_dir"].endswith(f"/jobs/processing/{unique}/processing/input/data")
    assert summary["job_name_in_config"] == unique
    assert summary["config_local_path"] == "/opt/ml/processing/input/code"
    assert summary["endpoint"].startswith("http://127.0.0.1:")


def test_processing_logs_go_to_cloudwatch_under_the_job_name(aws, bucket, unique):
    put(aws, bucket, "raw/a.csv", "id,value\n1,2\n")
    sm = aws("sagemaker")
    sm.create_processing_job(**csv_job(aws, bucket, unique))
    assert wait(sm, "processing", unique)["ProcessingJobStatus"] == "Completed"

    streams = aws("logs").describe_log_streams(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=unique + "/"
    )["logStreams"]
    assert [s["logStreamName"].rsplit("-", 1)[0] for s in streams] == [f"{unique}/algo-1"]
    # Both streams reach the job's log stream. Their relative order is not defined (two pipes, read
    # side by side, as a container runtime reads them); on a busy machine stderr's line can come first.
    assert sorted(log_messages(aws, "/aws/sagemaker/ProcessingJobs", unique)) == [
        "a warning on stderr",
        "processed a.csv",
    ]


def test_a_failing_script_fails_the_job_with_its_exit_code_and_stderr_tail(aws, bucket, unique):
    sm = aws("sagemaker")
    code = upload_script(aws, bucket, "code/fail.py", "fail.py")
    sm.create_processing_job(**processing_request(unique, bucket, code, ["7"]))
    done = wait(sm, "processing", unique)

    assert done["ProcessingJobStatus"] == "Failed"
    reason = done["FailureReason"]
    assert reason.startswith("AlgorithmError: ")
    assert "exited with code 7" in reason
    assert reason.rstrip().endswith("ValueError: the input had no rows")
    assert "noise line 29" in reason
    assert len(reason) <= 1024
    listed = sm.list_processing_jobs(NameContains=unique)["ProcessingJobSummaries"]
    assert [(j["ProcessingJobStatus"], j["FailureReason"]) for j in listed] == [("Failed", reason)]


def test_an_input_prefix_without_objects_fails_the_job(aws, bucket, unique):
    sm = aws("sagemaker")
    sm.create_processing_job(**csv_job(aws, bucket, unique))
    done = wait(sm, "processing", unique)
    assert done["ProcessingJobStatus"] == "Failed"
    assert f'No S3 objects found under S3 URL "s3://{bucket}/raw/"' in done["FailureReason"]


def test_processing_over_max_runtime_is_stopped(aws, bucket, unique, tmp_path):
    sm = aws("sagemaker")
    code = upload_script(aws, bucket, "code/sleeper.py", "sleeper.py")
    sm.create_processing_job(
        **processing_request(
            unique,
            bucket,
            code,
            [str(tmp_path / "pid.json"), "30"],
            StoppingCondition={"MaxRuntimeInSeconds": 1},
        )
    )
    done = wait(sm, "processing", unique, timeout=20)
    assert done["ProcessingJobStatus"] == "Stopped"
    assert "MaxRuntimeInSeconds (1 s)" in done["ExitMessage"]
    assert (done["ProcessingEndTime"] - done["ProcessingStartTime"]).total_seconds() < 10


def test_an_entrypoint_that_does_not_exist_fails_the_job(aws, bucket, unique):
    sm = aws("sagemaker")
    request = csv_job(aws, bucket, unique)
    request["AppSpecification"]["ContainerEntrypoint"] = ["/opt/conda/bin/no-such-interpreter", "run.py"]
    put(aws, bucket, "raw/a.csv", "id,value\n1,2\n")
    sm.create_processing_job(**request)
    done = wait(sm, "processing", unique)
    assert done["ProcessingJobStatus"] == "Failed"
    assert done["FailureReason"].startswith(
        "ClientError: could not start the container command '/opt/conda/bin/no-such-interpreter'"
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: r["AppSpecification"].pop("ContainerEntrypoint"), "container images' own entrypoints"),
        (lambda r: r["ProcessingResources"]["ClusterConfig"].update(InstanceCount=2), "InstanceCount=2"),
        (lambda r: r["ProcessingInputs"][1]["S3Input"].update(S3InputMode="Pipe"), "S3InputMode=Pipe"),
        (lambda r: r["ProcessingInputs"][1]["S3Input"].update(S3DataType="ManifestFile"), "ManifestFile"),
        (
            lambda r: r["ProcessingOutputConfig"]["Outputs"][0]["S3Output"].update(S3UploadMode="Continuous"),
            "S3UploadMode=Continuous",
        ),
        (
            lambda r: r["ProcessingInputs"][1]["S3Input"].update(S3Uri="https://s3.amazonaws.com/b/raw/"),
            "https://",
        ),
    ],
)
def test_features_the_sandbox_cannot_run_are_refused_at_create(aws, bucket, unique, change, expected):
    request = csv_job(aws, bucket, unique)
    change(request)
    with pytest.raises(ClientError) as caught:
        aws("sagemaker").create_processing_job(**request)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "the sandbox does not emulate" in error["Message"]
    assert expected in error["Message"]


def test_create_validates_names_roles_uris_and_local_paths_like_sagemaker(aws, bucket, unique):
    sm = aws("sagemaker")
    bad_name = csv_job(aws, bucket, unique + "_x")
    with pytest.raises(ClientError) as caught:
        sm.create_processing_job(**bad_name)
    assert caught.value.response["Error"]["Message"] == (
        f"1 validation error detected: Value '{unique}_x' at 'processingJobName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
    )

    bad_role_and_uri = csv_job(aws, bucket, unique, RoleArn="my-sagemaker-execution-role")
    bad_role_and_uri["ProcessingInputs"][1]["S3Input"]["S3Uri"] = f"{bucket}/raw/"
    with pytest.raises(ClientError) as caught:
        sm.create_processing_job(**bad_role_and_uri)
    message = caught.value.response["Error"]["Message"]
    assert message.startswith("2 validation errors detected: ")
    assert "at 'processingInputs.2.member.s3Input.s3Uri'" in message
    assert "Value 'my-sagemaker-execution-role' at 'roleArn'" in message

    outside = csv_job(aws, bucket, unique)
    outside["ProcessingInputs"][1]["S3Input"]["LocalPath"] = "/tmp/data"
    with pytest.raises(ClientError) as caught:
        sm.create_processing_job(**outside)
    assert "must be an absolute path under /opt/ml/processing" in caught.value.response["Error"]["Message"]
    # nothing was created by the refused requests
    with pytest.raises(ClientError) as caught:
        sm.describe_processing_job(ProcessingJobName=unique)
    assert caught.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Requested resource not found.",
    }


def test_each_job_gets_its_instance_cpus_shared_fairly_among_running_jobs(tmp_path):
    """OMP/BLAS pools sized per job: the instance's vCPUs, capped by a fair share of the sandbox's CPUs
    among the jobs running when it starts; the request's own Environment wins."""
    from tests.conftest import start_sandbox, stop_sandbox

    proc, sandbox = start_sandbox(tmp_path / "sandbox", "--cpus", "4")
    try:
        aws = sandbox.boto3_client
        sm = aws("sagemaker")
        bucket = make_bucket(aws, "threads")
        code = upload_script(aws, bucket, "code/threads.py", "threads.py")

        def start(name: str, instance: str, seconds: float, **extra) -> None:
            request = processing_request(
                name, bucket, code, ["/opt/ml/processing/output", str(seconds)],
                outputs=[s3_output("out", f"s3://{bucket}/{name}", "/opt/ml/processing/output")], **extra)
            request["ProcessingResources"]["ClusterConfig"]["InstanceType"] = instance
            sm.create_processing_job(**request)

        def threads(name: str) -> str:
            assert wait(sm, "processing", name)["ProcessingJobStatus"] == "Completed"
            found = json.loads(get(aws, bucket, f"{name}/threads.json"))
            assert len(set(found.values())) == 1, found  # OMP, OpenBLAS and MKL agree
            return found["OMP_NUM_THREADS"]

        start("alone-big", "ml.m5.4xlarge", 6)  # 16 vCPUs, alone on 4 CPUs: 4
        wait(sm, "processing", "alone-big", until={"InProgress"})
        import time

        time.sleep(1.5)  # past the launch delay: alone-big holds its slot
        start("beside-big", "ml.m5.4xlarge", 0)  # two jobs running on 4 CPUs: 2 each
        assert (threads("alone-big"), threads("beside-big")) == ("4", "2")
        start("small", "ml.m5.large", 0)  # alone again, but its instance has 2 vCPUs
        start("pinned", "ml.m5.4xlarge", 0, environment={"OMP_NUM_THREADS": "3", "OPENBLAS_NUM_THREADS": "3",
                                                          "MKL_NUM_THREADS": "3"})
        assert threads("small") == "2" and threads("pinned") == "3"
    finally:
        stop_sandbox(proc)
