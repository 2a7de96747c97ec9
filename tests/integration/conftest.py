"""Fixtures of the operator and alert tests: the sandbox's AWS settings in the environment (as a deployment's
connection would have them), and a bucket holding a small processing script."""

from __future__ import annotations

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
