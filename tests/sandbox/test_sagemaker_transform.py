"""Batch transform jobs follow the SageMaker scikit-learn serving contract and the batch agent's rules."""

from __future__ import annotations

import gzip
import io
import json

import joblib
import pytest
from botocore.exceptions import ClientError
from sklearn.linear_model import LinearRegression

from tests.sandbox.jobs.sm_support import (
    IMAGE,
    JOBS,
    ROLE,
    get,
    keys,
    log_messages,
    make_bucket,
    put,
    tar_gz,
    transform_request,
    upload_sourcedir,
    wait,
)


@pytest.fixture
def bucket(aws, unique):
    return make_bucket(aws, f"{unique}-batch")


def sklearn_model(
    aws, bucket: str, name: str, program: str = "inference.py", code_in_model: bool = False
) -> str:
    """A SageMaker model whose artifact is a fitted y = 2*x1 + x2 regression.

    The inference code comes from an S3 sourcedir.tar.gz, or with ``code_in_model`` from ``code/`` inside
    model.tar.gz (SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code), the two layouts the SDK produces.
    """
    buffer = io.BytesIO()
    joblib.dump(LinearRegression().fit([[1, 0], [2, 1], [3, 0], [0, 2]], [2, 5, 6, 2]), buffer)
    files = {"model.joblib": buffer.getvalue(), "params.json": b'{"scale": 10}'}
    if code_in_model:
        files.update(
            {f"code/{p.name}": p.read_bytes() for p in (JOBS / "serve_src").iterdir() if p.is_file()}
        )
        code = "/opt/ml/model/code"
    else:
        code = upload_sourcedir(aws, bucket, f"artifacts/{name}/sourcedir.tar.gz", "serve_src")
    artifact = put(aws, bucket, f"artifacts/{name}/model.tar.gz", tar_gz(files))
    aws("sagemaker").create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": artifact,
            "Environment": {"SAGEMAKER_PROGRAM": program, "SAGEMAKER_SUBMIT_DIRECTORY": code},
        },
    )
    return name


def run(aws, request) -> dict:
    sm = aws("sagemaker")
    sm.create_transform_job(**request)
    assert (
        sm.describe_transform_job(TransformJobName=request["TransformJobName"])["TransformJobStatus"]
        == "InProgress"
    )
    return wait(sm, "transform", request["TransformJobName"])


def test_default_handlers_csv_in_csv_out_and_out_naming(aws, bucket, unique):
    model = sklearn_model(aws, bucket, unique)
    put(aws, bucket, "in/day=1/a.csv", "1,0\n2,1\n")
    put(aws, bucket, "in/day=2/b.csv", "3,0\n0,2\n4,4\n")
    done = run(
        aws, transform_request(unique, model, f"s3://{bucket}/in/", f"s3://{bucket}/out", accept="text/csv")
    )

    assert done["TransformJobStatus"] == "Completed", done.get("FailureReason")
    assert keys(aws, bucket, "out/") == ["out/day=1/a.csv.out", "out/day=2/b.csv.out"]
    first = [float(v) for v in get(aws, bucket, "out/day=1/a.csv.out").decode().split()]
    assert first == pytest.approx([2.0, 5.0], abs=1e-4)
    second = [float(v) for v in get(aws, bucket, "out/day=2/b.csv.out").decode().split()]
    assert second == pytest.approx([6.0, 2.0, 12.0], abs=1e-4)
    assert done["TransformInput"]["CompressionType"] == "None"
    assert done["TransformOutput"]["AssembleWith"] == "Line"


def test_default_handlers_json_and_the_default_accept_with_code_in_the_model(aws, bucket, unique):
    model = sklearn_model(aws, bucket, unique, code_in_model=True)
    put(aws, bucket, "in/rows.json", json.dumps([[1, 0], [2, 1]]))
    done = run(
        aws,
        transform_request(
            unique,
            model,
            f"s3://{bucket}/in/rows.json",
            f"s3://{bucket}/out/",
            content_type="application/json",
            split="None",
            strategy=None,
            assemble="None",
        ),
    )
    assert done["TransformJobStatus"] == "Completed", done.get("FailureReason")
    # no Accept: the container answers in SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, application/json
    assert json.loads(get(aws, bucket, "out/rows.json.out")) == pytest.approx([2.0, 5.0], abs=1e-4)


def test_single_record_csv_becomes_a_1d_array_exactly_as_in_the_container(aws, bucket, unique):
    model = sklearn_model(aws, bucket, unique)
    put(aws, bucket, "in/a.csv", "1,0\n2,1\n")
    done = run(
        aws,
        transform_request(
            unique,
            model,
            f"s3://{bucket}/in/",
            f"s3://{bucket}/out",
            strategy="SingleRecord",
            accept="text/csv",
        ),
    )
    assert done["TransformJobStatus"] == "Failed"
    assert "Expected 2D array, got 1D array instead" in done["FailureReason"]
    assert f"s3://{bucket}/in/a.csv" in done["FailureReason"]


def test_multi_record_packs_lines_up_to_max_payload_and_single_record_sends_one(aws, bucket, unique):
    model = sklearn_model(aws, bucket, unique, program="batches.py")
    line = "1," + "x" * 98 + "\n"  # 101 bytes
    put(aws, bucket, "in/big.csv", line * 15000)  # 1.5 MB
    put(aws, bucket, "in/small.csv", "1,a\n2,b\n\n3,c\n")
    multi = run(
        aws,
        transform_request(
            f"{unique}-m", model, f"s3://{bucket}/in/", f"s3://{bucket}/multi", MaxPayloadInMB=1
        ),
    )
    single = run(
        aws,
        transform_request(
            f"{unique}-s",
            model,
            f"s3://{bucket}/in/small.csv",
            f"s3://{bucket}/single",
            strategy="SingleRecord",
            assemble="None",
        ),
    )
    assert (multi["TransformJobStatus"], single["TransformJobStatus"]) == ("Completed", "Completed")

    per_record = 1024 * 1024 // 101  # records that fit in 1 MB
    assert get(aws, bucket, "multi/big.csv.out").decode().splitlines() == [
        f"records={per_record} bytes={per_record * 101} sum={per_record * 10}",
        f"records={15000 - per_record} bytes={(15000 - per_record) * 101} sum={(15000 - per_record) * 10}",
    ]
    assert (
        get(aws, bucket, "multi/small.csv.out") == b"records=3 bytes=12 sum=60\n"
    )  # the blank line is no record
    # SingleRecord: one request per line; AssembleWith None concatenates the responses as they are
    assert get(aws, bucket, "single/small.csv.out") == (
        b"records=1 bytes=4 sum=10records=1 bytes=4 sum=20records=1 bytes=4 sum=30"
    )


def test_gzip_input_and_split_none(aws, bucket, unique):
    model = sklearn_model(aws, bucket, unique, program="batches.py")
    put(aws, bucket, "in/part.csv.gz", gzip.compress(b"1,a\n2,b\n"))
    done = run(
        aws,
        transform_request(
            unique,
            model,
            f"s3://{bucket}/in/",
            f"s3://{bucket}/out",
            split="None",
            strategy=None,
            TransformInput={
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/in/"}},
                "ContentType": "text/csv",
                "CompressionType": "Gzip",
            },
        ),
    )
    assert done["TransformJobStatus"] == "Completed", done.get("FailureReason")
    assert get(aws, bucket, "out/part.csv.gz.out") == b"records=2 bytes=8 sum=30\n"


def test_a_handler_error_fails_the_job_but_keeps_finished_objects(aws, bucket, unique):
    model = sklearn_model(aws, bucket, unique, program="batches.py")
    put(aws, bucket, "in/1-good.csv", "1,a\n")
    put(aws, bucket, "in/2-bad.csv", "2,a\n3,boom\n")
    done = run(aws, transform_request(unique, model, f"s3://{bucket}/in/", f"s3://{bucket}/out"))

    assert done["TransformJobStatus"] == "Failed"
    reason = done["FailureReason"]
    assert reason.startswith("AlgorithmError: See job logs for more information.")
    assert f"s3://{bucket}/in/2-bad.csv: ValueError: cannot score a record containing boom" in reason
    assert keys(aws, bucket, "out/") == ["out/1-good.csv.out"]
    messages = log_messages(aws, "/aws/sagemaker/TransformJobs", unique)
    assert any(
        m.endswith(
            "[sagemaker logs]: MaxConcurrentTransforms=1, MaxPayloadInMB=6, BatchStrategy=MULTI_RECORD"
        )
        for m in messages
    )
    assert any("ValueError: cannot score a record containing boom" in m for m in messages)
    streams = aws("logs").describe_log_streams(
        logGroupName="/aws/sagemaker/TransformJobs", logStreamNamePrefix=unique + "/"
    )["logStreams"]
    names = sorted(s["logStreamName"] for s in streams)
    assert len(names) == 2 and names[1] == names[0] + "/data-log"
    assert names[0].startswith(f"{unique}/i-")


def test_a_module_that_does_not_import_leaves_the_container_without_model_fn(aws, bucket, unique):
    model = sklearn_model(aws, bucket, unique, program="no_such_module.py")
    put(aws, bucket, "in/a.csv", "1,0\n")
    done = run(aws, transform_request(unique, model, f"s3://{bucket}/in/", f"s3://{bucket}/out"))
    assert done["TransformJobStatus"] == "Failed"
    reason = done["FailureReason"]
    assert "the model failed to load: NotImplementedError: Please provide a model_fn implementation." in reason
    assert "No module named 'no_such_module'" in reason


def test_model_from_a_registered_model_package(aws, bucket, unique):
    sm = aws("sagemaker")
    sklearn_model(aws, bucket, f"{unique}-src")
    source = sm.describe_model(ModelName=f"{unique}-src")["PrimaryContainer"]
    sm.create_model_package_group(ModelPackageGroupName=unique)
    package = sm.create_model_package(
        ModelPackageGroupName=unique,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [
                {"Image": IMAGE, "ModelDataUrl": source["ModelDataUrl"], "Environment": source["Environment"]}
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, Containers=[{"ModelPackageName": package}])
    assert sm.describe_model(ModelName=unique)["Containers"] == [{"ModelPackageName": package}]
    put(aws, bucket, "in/a.csv", "1,0\n2,1\n")

    done = run(
        aws, transform_request(unique, unique, f"s3://{bucket}/in/", f"s3://{bucket}/out", accept="text/csv")
    )
    assert done["TransformJobStatus"] == "Completed", done.get("FailureReason")
    assert [float(v) for v in get(aws, bucket, "out/a.csv.out").split()] == pytest.approx(
        [2.0, 5.0], abs=1e-4
    )


def test_stop_a_transform_job_and_list_it(aws, sandbox, bucket, unique):
    sm = aws("sagemaker")
    model = sklearn_model(aws, bucket, unique)
    put(aws, bucket, "in/a.csv", "1,0\n")
    sandbox.client.slow_job(unique, delay_seconds=30)
    sm.create_transform_job(**transform_request(unique, model, f"s3://{bucket}/in/", f"s3://{bucket}/out"))
    sm.stop_transform_job(TransformJobName=unique)
    assert sm.describe_transform_job(TransformJobName=unique)["TransformJobStatus"] == "Stopping"
    assert wait(sm, "transform", unique, timeout=10)["TransformJobStatus"] == "Stopped"
    assert keys(aws, bucket, "out/") == []
    listed = sm.list_transform_jobs(NameContains=unique, StatusEquals="Stopped")["TransformJobSummaries"]
    assert [(j["TransformJobName"], j["TransformJobStatus"]) for j in listed] == [(unique, "Stopped")]
    assert listed[0]["LastModifiedTime"] >= listed[0]["CreationTime"]


def test_create_refuses_what_the_sandbox_cannot_run(aws, bucket, unique):
    sm = aws("sagemaker")
    model = sklearn_model(aws, bucket, unique)
    put(aws, bucket, "in/a.csv", "1,0\n")
    request = transform_request(
        unique,
        model,
        f"s3://{bucket}/in/",
        f"s3://{bucket}/out",
        DataProcessing={"InputFilter": "$[1:]", "OutputFilter": "$"},
    )
    with pytest.raises(ClientError) as caught:
        sm.create_transform_job(**request)
    assert (
        "the sandbox does not emulate DataProcessing.InputFilter" in caught.value.response["Error"]["Message"]
    )

    request = transform_request(unique, model, f"s3://{bucket}/in/", f"s3://{bucket}/out", split="RecordIO")
    with pytest.raises(ClientError) as caught:
        sm.create_transform_job(**request)
    assert "the sandbox does not emulate SplitType=RecordIO" in caught.value.response["Error"]["Message"]

    request = transform_request(unique, f"{unique}-missing", f"s3://{bucket}/in/", f"s3://{bucket}/out")
    with pytest.raises(ClientError) as caught:
        sm.create_transform_job(**request)
    assert caught.value.response["Error"]["Message"] == (
        f'Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/{unique}-missing".'
    )
