"""The endpoint itself: routing to moto, the control API, fault injection in every protocol, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import REPO, start_sandbox, stop_sandbox


def test_moto_services_pass_through(aws, unique):
    s3 = aws("s3")
    s3.create_bucket(Bucket=unique)
    s3.put_object(Bucket=unique, Key="a/b.txt", Body=b"hello")
    assert s3.get_object(Bucket=unique, Key="a/b.txt")["Body"].read() == b"hello"

    glue = aws("glue")
    glue.create_database(DatabaseInput={"Name": unique})
    assert glue.get_database(Name=unique)["Database"]["Name"] == unique

    assert aws("sts").get_caller_identity()["Account"] == "123456789012"
    logs = aws("logs")
    logs.create_log_group(logGroupName=f"/{unique}")
    assert logs.describe_log_groups(logGroupNamePrefix=f"/{unique}")["logGroups"]


def test_status_reports_what_the_sandbox_holds(sandbox, aws, unique):
    aws("s3").create_bucket(Bucket=unique)
    aws("s3").put_object(Bucket=unique, Key="x", Body=b"12345")
    status = sandbox.client.status()
    assert status["s3"][unique] == {"objects": 1, "bytes": 5}
    assert status["endpoint"] == sandbox.endpoint


def test_s3_slowdown_fault_is_retried_by_botocore(tmp_path, unique):
    """On a server of its own: on the shared one, a job still finishing from another module may read S3 over
    HTTP and take one of the two faulted GetObjects, leaving botocore one retry instead of two."""
    proc, sandbox = start_sandbox(tmp_path)
    try:
        _slowdown_is_retried(sandbox, unique)
    finally:
        stop_sandbox(proc)


def _slowdown_is_retried(sandbox, unique: str) -> None:
    s3 = sandbox.boto3_client("s3", config=Config(retries={"mode": "standard", "total_max_attempts": 4}))
    s3.create_bucket(Bucket=unique)
    s3.put_object(Bucket=unique, Key="k", Body=b"v")
    fault = sandbox.client.fail_calls("s3", "GetObject", "SlowDown", count=2)
    response = s3.get_object(Bucket=unique, Key="k")
    assert response["Body"].read() == b"v"
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert all(f["id"] != fault["id"] for f in sandbox.client.faults()), "a spent fault must disappear"


def test_fault_error_code_and_status_reach_the_client(sandbox, aws, unique):
    glue = aws("glue", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    sandbox.client.fail_calls("glue", "GetDatabase", "InternalFailure", count=1)
    with pytest.raises(ClientError) as err:
        glue.get_database(Name=unique)
    assert err.value.response["Error"]["Code"] == "InternalFailure"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_query_protocol_fault(sandbox, aws):
    sts = aws("sts", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    sandbox.client.fail_calls("sts", "GetCallerIdentity", "Throttling", count=1)
    with pytest.raises(ClientError) as err:
        sts.get_caller_identity()
    assert err.value.response["Error"]["Code"] == "Throttling"
    assert sts.get_caller_identity()["Account"] == "123456789012"


def test_a_late_answer_fault_delays_the_call_and_then_answers_it(sandbox, aws):
    import time

    sts = aws("sts", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    fault = sandbox.client.add_fault(service="sts", operation="GetCallerIdentity", delay_seconds=1.5, count=1)
    assert fault["error"] is None
    started = time.monotonic()
    assert sts.get_caller_identity()["Account"] == "123456789012"  # answered, not failed
    assert time.monotonic() - started >= 1.5
    started = time.monotonic()
    sts.get_caller_identity()  # the fault is spent
    assert time.monotonic() - started < 1.5


def test_fault_until_cleared(sandbox, aws, unique):
    glue = aws("glue", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    sandbox.client.fail_calls("glue", "GetDatabases", "ThrottlingException", count=None)
    for _ in range(3):
        with pytest.raises(ClientError):
            glue.get_databases()
    assert sandbox.client.clear_faults() >= 1
    glue.get_databases()


@pytest.mark.parametrize(
    "spec, complaint",
    [
        ({"operation": "PutObject"}, "needs 'service'"),
        ({"service": "s3", "count": 0}, "'count'"),
        ({"service": "s3", "colour": "red"}, "unknown field"),
        ({"job": "x-*"}, "failure_reason"),
        ({"service": "s3", "delay_seconds": -1}, "delay_seconds"),
    ],
)
def test_bad_fault_specs_are_rejected_with_the_reason(sandbox, spec, complaint):
    with pytest.raises(RuntimeError, match="400") as err:
        sandbox.client.add_fault(**spec)
    assert complaint in str(err.value)


def test_unknown_control_route_is_404(sandbox):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{sandbox.endpoint}/_sandbox/nope")
    assert err.value.code == 404


def test_env_prints_exports_that_reach_the_sandbox(sandbox, unique, tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "sandbox", "env", "--port", sandbox.endpoint.rsplit(":", 1)[1]],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout
    # After the exports, the sandbox's own commands follow AWS_ENDPOINT_URL without --port; the state dir
    # is an empty one, so no running server's record can lead them there instead.
    empty = tmp_path / "no-server-here"
    script = "\n".join([
        out,
        f"{sys.executable} -c \"import boto3; boto3.client('s3').create_bucket(Bucket='{unique}')\"",
        f"{sys.executable} -m sandbox fault --state-dir {empty} aws s3 DeleteBucket --error {unique}",
        f"{sys.executable} -m sandbox status --state-dir {empty}",
    ])
    done = subprocess.run(["bash", "-ec", script], cwd=REPO, capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")})
    assert done.returncode == 0, done.stderr[-2000:]
    assert unique in sandbox.client.status()["s3"]
    assert f"running at {sandbox.endpoint}" in done.stdout
    assert [f["error"] for f in sandbox.client.faults() if f.get("error") == unique] == [unique]
    sandbox.client.clear_faults()
    assert "AIRFLOW_CONN_AWS_DEFAULT" in out and "AIRFLOW_HOME" in out and "SecretsManagerBackend" in out


def test_status_command_when_running_and_when_not(sandbox, tmp_path):
    port = sandbox.endpoint.rsplit(":", 1)[1]
    up = subprocess.run([sys.executable, "-m", "sandbox", "status", "--port", port],
                        cwd=REPO, capture_output=True, text=True)
    assert up.returncode == 0 and "running at" in up.stdout
    down = subprocess.run([sys.executable, "-m", "sandbox", "status", "--port", "1", "--state-dir", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True)
    assert down.returncode == 1 and "not running" in down.stdout


def test_ctrl_c_stops_cleanly_and_start_up_is_quick(tmp_path):
    started = time.monotonic()
    proc, handle = start_sandbox(tmp_path)
    try:
        s3 = handle.boto3_client("s3")
        s3.list_buckets()
        first_answer = time.monotonic() - started
        assert (tmp_path / "server.json").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    assert proc.returncode == 0
    assert "sandbox stopped" in handle.log_path.read_text()
    assert not (tmp_path / "server.json").exists()
    # Generous bound: the figure itself is measured by bench/sandbox_bench.py, not asserted here.
    assert first_answer < 15, first_answer


def test_ctrl_c_stops_a_sandbox_started_with_sigint_ignored(tmp_path):
    """A background job of a non-interactive shell starts with SIGINT ignored; the sandbox still answers it."""
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        ["bash", "-c", f"trap '' INT; exec {sys.executable} -m sandbox serve --port 0 --state-dir {tmp_path} "
                       f"--ready-file {ready}"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), proc.stdout.read() if proc.poll() is not None else "no ready file"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        assert "sandbox stopped" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_reset_forgets_state(tmp_path):
    proc, handle = start_sandbox(tmp_path)
    try:
        s3 = handle.boto3_client("s3")
        s3.create_bucket(Bucket="reset-me")
        handle.client.fail_calls("s3", "PutObject", count=None)
        handle.client.reset()
        assert s3.list_buckets()["Buckets"] == []
        assert handle.client.faults() == []
        assert json.loads(urllib.request.urlopen(f"{handle.endpoint}/_sandbox/health").read())["ok"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
