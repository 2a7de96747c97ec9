"""The Athena API around queries: lifecycle, stopping, idempotency, listing, workgroups."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.test_athena_support import Athena, unique_token

# about 10^10 row pairs: runs until stopped
SLOW = ("SELECT count(*) FROM UNNEST(sequence(1, 100000)) AS a(x) CROSS JOIN UNNEST(sequence(1, 100000)) AS b(y) "
        "WHERE (x * y) % 7 = 3")


@pytest.fixture
def athena(aws, unique, sandbox) -> Athena:
    return Athena(aws, unique, sandbox)


def state(athena: Athena, qid: str) -> dict:
    return athena.client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]


def test_a_query_moves_through_its_states_with_statistics(athena: Athena):
    qid = athena.start("SELECT 42 AS answer")
    execution = athena.wait(qid)
    status, stats = execution["Status"], execution["Statistics"]
    assert status["State"] == "SUCCEEDED"
    assert status["SubmissionDateTime"] <= status["CompletionDateTime"]
    assert stats["TotalExecutionTimeInMillis"] >= stats["EngineExecutionTimeInMillis"] >= 0
    assert stats["QueryQueueTimeInMillis"] >= 0 and stats["DataScannedInBytes"] == 0
    assert execution["Query"] == "SELECT 42 AS answer"
    assert execution["QueryExecutionContext"] == {"Database": athena.db}
    assert execution["WorkGroup"] == "primary"
    assert execution["EngineVersion"]["EffectiveEngineVersion"] == "Athena engine version 3"
    assert athena.results(qid)[0] == [["answer"], ["42"]]


def test_stop_query_execution_cancels_a_running_query(athena: Athena):
    qid = athena.start(SLOW)
    assert state(athena, qid)["Status"]["State"] in ("QUEUED", "RUNNING")
    with pytest.raises(ClientError, match="Query has not yet finished. Current state: (QUEUED|RUNNING)"):
        athena.client.get_query_results(QueryExecutionId=qid)
    started = time.monotonic()
    athena.client.stop_query_execution(QueryExecutionId=qid)
    execution = athena.wait(qid, timeout=10)
    assert execution["Status"]["State"] == "CANCELLED"
    assert execution["Status"]["StateChangeReason"] == "Query cancelled by user"
    assert "AthenaError" not in execution["Status"]
    assert time.monotonic() - started < 5
    with pytest.raises(ClientError, match="Could not find results"):
        athena.client.get_query_results(QueryExecutionId=qid)
    athena.client.stop_query_execution(QueryExecutionId=qid)  # stopping a finished query changes nothing
    assert state(athena, qid)["Status"]["State"] == "CANCELLED"
    assert athena.scalar("SELECT 1") == "1"  # the worker is free again


def test_failed_query_has_no_results(athena: Athena):
    qid = athena.start("SELECT * FROM missing")
    assert athena.wait(qid)["Status"]["State"] == "FAILED"
    with pytest.raises(ClientError, match="Query did not finish successfully. Final query state: FAILED"):
        athena.client.get_query_results(QueryExecutionId=qid)
    with pytest.raises(ClientError, match="QueryExecution nope-id was not found"):
        athena.client.get_query_execution(QueryExecutionId="nope-id")


def test_client_request_token_makes_start_idempotent(athena: Athena):
    token = unique_token()
    first = athena.start("SELECT 1", ClientRequestToken=token)
    listed = athena.client.list_query_executions()["QueryExecutionIds"]
    again = athena.start("SELECT 1", ClientRequestToken=token)
    assert again == first
    assert athena.client.list_query_executions()["QueryExecutionIds"] == listed  # no new query
    with pytest.raises(ClientError) as e:
        athena.start("SELECT 2", ClientRequestToken=token)
    assert e.value.response["Error"]["Message"] == "Idempotent parameters do not match"
    assert e.value.response["AthenaErrorCode"] == "IDEMPOTENT_PARAMETER_MISMATCH"


def test_list_and_batch_get_query_executions(athena: Athena):
    wg = f"{athena.db}-list"
    athena.client.create_work_group(Name=wg, Configuration={"ResultConfiguration": {"OutputLocation": athena.output}})
    ids = [athena.start(f"SELECT {i}", WorkGroup=wg) for i in range(5)]
    for qid in ids:
        athena.wait(qid)
    page1 = athena.client.list_query_executions(WorkGroup=wg, MaxResults=2)
    page2 = athena.client.list_query_executions(WorkGroup=wg, MaxResults=2, NextToken=page1["NextToken"])
    page3 = athena.client.list_query_executions(WorkGroup=wg, MaxResults=2, NextToken=page2["NextToken"])
    assert page1["QueryExecutionIds"] + page2["QueryExecutionIds"] + page3["QueryExecutionIds"] == ids[::-1]
    assert "NextToken" not in page3
    batch = athena.client.batch_get_query_execution(QueryExecutionIds=[ids[0], "missing-id"])
    assert [q["QueryExecutionId"] for q in batch["QueryExecutions"]] == [ids[0]]
    assert batch["QueryExecutions"][0]["Status"]["State"] == "SUCCEEDED"
    assert batch["UnprocessedQueryExecutionIds"][0]["QueryExecutionId"] == "missing-id"


def test_output_location_from_request_or_workgroup(athena: Athena):
    wg, enforced = f"{athena.db}-wg", f"{athena.db}-enforced"
    athena.client.create_work_group(Name=wg, Description="team", Configuration={
        "ResultConfiguration": {"OutputLocation": f"s3://{athena.bucket}/wg-results/"}})
    athena.client.create_work_group(Name=enforced, Configuration={
        "ResultConfiguration": {"OutputLocation": f"s3://{athena.bucket}/enforced/"},
        "EnforceWorkGroupConfiguration": True})
    qid = athena.client.start_query_execution(QueryString="SELECT 1", WorkGroup=wg)["QueryExecutionId"]
    assert athena.wait(qid)["ResultConfiguration"]["OutputLocation"] == f"s3://{athena.bucket}/wg-results/{qid}.csv"
    assert athena.keys("wg-results/") == [f"wg-results/{qid}.csv", f"wg-results/{qid}.csv.metadata"]
    qid = athena.start("SELECT 1", WorkGroup=wg)  # the request's location wins when not enforced
    assert athena.wait(qid)["ResultConfiguration"]["OutputLocation"] == f"{athena.output}{qid}.csv"
    qid = athena.start("SELECT 1", WorkGroup=enforced)  # ... and loses when enforced
    assert athena.wait(qid)["ResultConfiguration"]["OutputLocation"] == f"s3://{athena.bucket}/enforced/{qid}.csv"


def test_no_output_location_is_refused(athena: Athena):
    wg = f"{athena.db}-bare"
    athena.client.create_work_group(Name=wg)
    with pytest.raises(ClientError) as e:
        athena.client.start_query_execution(QueryString="SELECT 1", WorkGroup=wg)
    assert e.value.response["Error"]["Code"] == "InvalidRequestException"
    assert e.value.response["Error"]["Message"] == (
        "No output location provided. An output location is required either through the Workgroup result "
        "configuration setting or as an API input.")
    with pytest.raises(ClientError, match="Unable to verify/create output bucket no-such-bucket-x"):
        athena.start("SELECT 1", ResultConfiguration={"OutputLocation": "s3://no-such-bucket-x/r/"})


def test_workgroups(athena: Athena):
    wg = f"{athena.db}-crud"
    athena.client.create_work_group(Name=wg, Description="analysts", Configuration={
        "ResultConfiguration": {"OutputLocation": athena.output}})
    got = athena.client.get_work_group(WorkGroup=wg)["WorkGroup"]
    assert got["Name"] == wg and got["State"] == "ENABLED" and got["Description"] == "analysts"
    assert got["Configuration"]["ResultConfiguration"] == {"OutputLocation": athena.output}
    primary = athena.client.get_work_group(WorkGroup="primary")["WorkGroup"]
    assert "Description" not in primary and primary["Configuration"]["EnforceWorkGroupConfiguration"] is False
    names = [w["Name"] for w in athena.client.list_work_groups()["WorkGroups"]]
    assert "primary" in names and wg in names and names == sorted(names)
    with pytest.raises(ClientError, match="WorkGroup is already created"):
        athena.client.create_work_group(Name=wg)
    athena.client.update_work_group(WorkGroup=wg, Description="moved", ConfigurationUpdates={
        "ResultConfigurationUpdates": {"OutputLocation": f"s3://{athena.bucket}/moved/"},
        "EnforceWorkGroupConfiguration": True})
    got = athena.client.get_work_group(WorkGroup=wg)["WorkGroup"]
    assert got["Description"] == "moved" and got["Configuration"]["EnforceWorkGroupConfiguration"] is True
    qid = athena.start("SELECT 1", WorkGroup=wg)
    assert athena.wait(qid)["ResultConfiguration"]["OutputLocation"] == f"s3://{athena.bucket}/moved/{qid}.csv"
    athena.client.delete_work_group(WorkGroup=wg)
    with pytest.raises(ClientError, match="WorkGroup is not found."):
        athena.client.get_work_group(WorkGroup=wg)
    with pytest.raises(ClientError, match="WorkGroup is not found."):
        athena.start("SELECT 1", WorkGroup=wg)


def test_status_reports_queries_and_cache(athena: Athena, sandbox):
    athena.ok("SELECT 1")
    status = sandbox.client.status()["athena"]
    assert status["queries"]["SUCCEEDED"] >= 1
    assert {"cached_objects", "s3_objects_fetched", "plan_cache_entries"} <= set(status)


def test_list_query_executions_of_an_unused_workgroup(aws, unique):
    athena = aws("athena")
    athena.create_work_group(Name=f"{unique}-empty", Configuration={
        "ResultConfiguration": {"OutputLocation": f"s3://{unique}-results/"}})
    assert athena.list_query_executions(WorkGroup=f"{unique}-empty").get("QueryExecutionIds", []) == []
