"""QuickSight SPICE ingestions in the sandbox, through boto3 unchanged: the lifecycle (INITIALIZED, RUNNING,
then COMPLETED, or FAILED when the data set does not exist), listing, duplicates, cancel and fault injection.

An ingestion runs for 1 s by default. Where a test must see one RUNNING, a job fault lengthens its run (by
seconds, or a minute when it is never waited for): on a loaded machine, a second can pass between two calls."""

from __future__ import annotations

import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})


def _data_set(qs, data_set_id: str) -> None:
    qs.create_data_set(AwsAccountId=ACCOUNT, DataSetId=data_set_id, Name=data_set_id, ImportMode="SPICE",
                       PhysicalTableMap={"t": {"S3Source": {"DataSourceArn": "arn:aws:quicksight:us-east-1:"
                                                            f"{ACCOUNT}:datasource/x",
                                                            "InputColumns": [{"Name": "c", "Type": "STRING"}]}}})


def _wait(qs, data_set_id: str, ingestion_id: str, timeout: float = 15) -> tuple[list[str], dict]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ingestion = qs.describe_ingestion(AwsAccountId=ACCOUNT, DataSetId=data_set_id,
                                          IngestionId=ingestion_id)["Ingestion"]
        if not seen or seen[-1] != ingestion["IngestionStatus"]:
            seen.append(ingestion["IngestionStatus"])
        if ingestion["IngestionStatus"] in ("COMPLETED", "FAILED", "CANCELLED"):
            return seen, ingestion
        time.sleep(0.1)
    raise AssertionError(f"ingestion {ingestion_id} did not end: {seen}")


def test_an_ingestion_runs_then_completes_and_is_listed(sandbox, aws, unique):
    qs = aws("quicksight")
    ds = f"ds-{unique}"
    _data_set(qs, ds)
    sandbox.client.slow_job(f"{ds}/i-1", 4)
    sandbox.client.slow_job(f"{ds}/i-2", 60)
    created = qs.create_ingestion(AwsAccountId=ACCOUNT, DataSetId=ds, IngestionId="i-1")
    assert created["Status"] == 201 and created["IngestionStatus"] == "INITIALIZED"
    assert created["Arn"] == f"arn:aws:quicksight:us-east-1:{ACCOUNT}:dataset/{ds}/ingestion/i-1"
    seen, ingestion = _wait(qs, ds, "i-1")
    assert seen == ["RUNNING", "COMPLETED"]
    assert ingestion["RequestType"] == "FULL_REFRESH" and "ErrorInfo" not in ingestion
    qs.create_ingestion(AwsAccountId=ACCOUNT, DataSetId=ds, IngestionId="i-2", IngestionType="INCREMENTAL_REFRESH")
    pages = list(qs.get_paginator("list_ingestions").paginate(AwsAccountId=ACCOUNT, DataSetId=ds,
                                                              PaginationConfig={"PageSize": 1}))
    assert len(pages) == 2, "one ingestion per page"
    listed = {i["IngestionId"]: i["IngestionStatus"] for p in pages for i in p["Ingestions"]}
    assert listed == {"i-1": "COMPLETED", "i-2": "RUNNING"}


def test_an_ingestion_of_a_missing_data_set_fails_with_the_reason(sandbox, aws, unique):
    qs = aws("quicksight")
    sandbox.client.slow_job(f"nope-{unique}/i-1", 4)
    qs.create_ingestion(AwsAccountId=ACCOUNT, DataSetId=f"nope-{unique}", IngestionId="i-1")
    seen, ingestion = _wait(qs, f"nope-{unique}", "i-1")
    assert seen == ["RUNNING", "FAILED"]
    assert ingestion["ErrorInfo"]["Type"] == "DATA_SET_DELETED"
    assert f"nope-{unique} does not exist" in ingestion["ErrorInfo"]["Message"]


def test_duplicates_unknown_ids_and_cancel_answer_as_aws(sandbox, aws, unique):
    qs = aws("quicksight", config=NO_RETRY)
    ds = f"ds-{unique}"
    _data_set(qs, ds)
    sandbox.client.slow_job(f"{ds}/i-1", 60)  # still running when cancelled
    qs.create_ingestion(AwsAccountId=ACCOUNT, DataSetId=ds, IngestionId="i-1")
    with pytest.raises(qs.exceptions.ResourceExistsException):
        qs.create_ingestion(AwsAccountId=ACCOUNT, DataSetId=ds, IngestionId="i-1")
    with pytest.raises(qs.exceptions.ResourceNotFoundException):
        qs.describe_ingestion(AwsAccountId=ACCOUNT, DataSetId=ds, IngestionId="i-9")
    with pytest.raises(qs.exceptions.ResourceNotFoundException):
        qs.list_ingestions(AwsAccountId=ACCOUNT, DataSetId=f"nope-{unique}")
    assert qs.cancel_ingestion(AwsAccountId=ACCOUNT, DataSetId=ds, IngestionId="i-1")["Status"] == 202
    assert _wait(qs, ds, "i-1")[1]["IngestionStatus"] == "CANCELLED"


def test_faults_throttle_calls_and_fail_or_slow_ingestions(sandbox, aws, unique):
    qs = aws("quicksight", config=NO_RETRY)
    ds = f"ds-{unique}"
    _data_set(qs, ds)
    sandbox.client.fail_calls("quicksight", "CreateIngestion", "ThrottlingException", count=1)
    with pytest.raises(ClientError) as err:
        qs.create_ingestion(AwsAccountId=ACCOUNT, DataSetId=ds, IngestionId="i-1")
    assert err.value.response["Error"]["Code"] == "ThrottlingException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    sandbox.client.fail_job(f"{ds}/i-bad", "SQL_TABLE_NOT_FOUND: table x is gone")
    qs.create_ingestion(AwsAccountId=ACCOUNT, DataSetId=ds, IngestionId="i-bad")
    assert _wait(qs, ds, "i-bad")[1]["ErrorInfo"] == {"Type": "SQL_TABLE_NOT_FOUND", "Message": "table x is gone"}
    sandbox.client.slow_job(f"{ds}/i-slow", 6)
    qs.create_ingestion(AwsAccountId=ACCOUNT, DataSetId=ds, IngestionId="i-slow")
    time.sleep(1.5)  # past the default run time: still running (until 7 s)
    assert qs.describe_ingestion(AwsAccountId=ACCOUNT, DataSetId=ds,
                                 IngestionId="i-slow")["Ingestion"]["IngestionStatus"] == "RUNNING"
    assert _wait(qs, ds, "i-slow")[1]["IngestionStatus"] == "COMPLETED"
