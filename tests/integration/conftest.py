"""Fixtures of the operator and alert tests: the sandbox's AWS settings in the environment (as a deployment's
connection would have them), a bucket holding a small processing script, and Slack connections to the sandbox."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tests.integration.test_operators import SCRIPT


@pytest.fixture
def aws_env(sandbox, monkeypatch):
    for key, value in sandbox.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    return sandbox


@pytest.fixture
def bucket(aws_env, unique):
    s3 = aws_env.boto3_client("s3")
    s3.create_bucket(Bucket=unique)
    s3.put_object(Bucket=unique, Key="code/job.py", Body=SCRIPT)
    return unique


@pytest.fixture
def slack(sandbox, monkeypatch, unique):
    """A bot-token connection and a webhook connection to the sandbox, and a channel of this test's own;
    ``messages()`` lists what was posted to it (by either)."""
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_BOT", json.dumps({
        "conn_type": "slack", "password": "xoxb-test-secret-token",
        "extra": {"base_url": f"{sandbox.endpoint}/_sandbox/slack/api/"}}))
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_HOOK", json.dumps({
        "conn_type": "slackwebhook", "host": f"{sandbox.endpoint}/_sandbox/slack/services",
        "password": f"T0/B{unique}/secret"}))
    monkeypatch.setenv("AIRFLOW_VAR_DEMAND_FORECAST_ENV", json.dumps(
        {"slack_channel": f"#{unique}", "oncall_handle": "@ml-oncall"}))
    return SimpleNamespace(channel=f"#{unique}", name=unique, sandbox=sandbox, messages=lambda: [
        m for m in sandbox.client.slack_messages() if m["channel_name"] in (unique, f"webhook-B{unique}")])
