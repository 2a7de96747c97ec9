"""Shared fixtures: the real sandbox server, started once per session on a free loopback port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sandbox.client import SandboxClient  # noqa: E402

REGION = "us-east-1"


@dataclass
class SandboxHandle:
    endpoint: str
    state_dir: Path
    client: SandboxClient
    log_path: Path

    def boto3_client(self, service: str, **kwargs):
        import boto3
        from botocore.config import Config

        kwargs.setdefault("config", Config(retries={"mode": "standard", "total_max_attempts": 4}))
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=kwargs.pop("region_name", REGION),
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",
            **kwargs,
        )

    def env(self) -> dict[str, str]:
        """os.environ plus what points boto3 and Airflow at this sandbox."""
        from sandbox.profile import environment

        return {**os.environ, **environment(self.endpoint)}

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text().splitlines()[-lines:])


def start_sandbox(state_dir: Path, *extra_args: str) -> tuple[subprocess.Popen, SandboxHandle]:
    ready = state_dir / "ready.json"
    log_path = state_dir / "server.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--port", "0", "--state-dir", str(state_dir),
         "--validate-responses", "--ready-file", str(ready), *extra_args],
        cwd=REPO, stdout=log_path.open("w"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"sandbox did not start:\n{log_path.read_text()}")
        time.sleep(0.05)
    endpoint = json.loads(ready.read_text())["endpoint"]
    client = SandboxClient(endpoint)
    client.wait_until_up(10)
    return proc, SandboxHandle(endpoint, state_dir, client, log_path)


def stop_sandbox(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory) -> SandboxHandle:
    """The real sandbox server. Every response it produces is checked against botocore's models;
    the session fails if any response departed from them."""
    proc, handle = start_sandbox(tmp_path_factory.mktemp("sandbox"))
    yield handle
    violations = handle.client.stats()["shape_violations"]
    stop_sandbox(proc)
    assert not violations, "sandbox responses that botocore's model does not allow:\n" + "\n".join(violations)


@pytest.fixture
def aws(sandbox):
    """boto3 client factory for the session sandbox: aws('s3'), aws('sagemaker'), ..."""
    return sandbox.boto3_client


@pytest.fixture
def unique(request) -> str:
    """A short name unique to this test, usable in bucket, job and table names."""
    import hashlib

    return "t" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:10]
