"""`make airflow`: the sandbox plus a real Airflow (scheduler, dag-processor, triggerer, api-server via
`airflow standalone`) with this repo's DAGs, plugins and connections pointed at the sandbox.

    python tools/stack.py [--port 8080] [--sandbox-port 4566]

Prints the UI's URL and login, then runs until Ctrl-C, which stops everything it started. The
real-scheduler tests use the same Stack class on free loopback ports.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

from sandbox import profile  # noqa: E402
from tools.demo import free_port, start_sandbox  # noqa: E402

USER = "admin"


class Stack:
    def __init__(self, root: Path, *, api_port: int = 8080, sandbox_port: int = 4566, seed_end: str | None = None,
                 env: dict[str, str] | None = None, password: str | None = None):
        self.root = Path(root)
        self.airflow_home = self.root / "airflow"
        self.api_port, self.sandbox_port = api_port, sandbox_port
        self.seed_end = seed_end
        self.extra_env = env or {}
        self.password = password
        self.sandbox: subprocess.Popen | None = None
        self.airflow: subprocess.Popen | None = None
        self.endpoint = ""
        self._token: tuple[str, float] | None = None
        # The components' log servers, moved off 8793/8794 when those are taken (another stack, a worker).
        self.log_ports = (free_port(8793), free_port(8794))

    @property
    def url(self) -> str:
        return f"http://localhost:{self.api_port}"

    def env(self) -> dict[str, str]:
        port = self.api_port
        return {
            **os.environ,
            **profile.environment(self.endpoint),
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.log_ports[0]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.log_ports[1]),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "BATCHML_DEADLINE_ALERTS": "on",  # a real scheduler handles them (only `dags test` cannot)
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "plugins"), os.environ.get("PYTHONPATH")])),
            # standalone starts its components as `airflow <component>` found on PATH
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            **self.extra_env,
        }

    def start(self, timeout: float = 180) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        self.sandbox, self.endpoint = start_sandbox(self.root / "sandbox", self.sandbox_port)
        env = self.env()
        seed_end = self.seed_end or (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
        seeded = subprocess.run([sys.executable, "-m", "sandbox", "seed", "--port", self.endpoint.rsplit(":", 1)[1],
                                 "--end-date", seed_end], cwd=REPO, env=env, capture_output=True, text=True)
        if seeded.returncode != 0:
            raise RuntimeError(f"seeding failed:\n{seeded.stderr[-3000:]}")
        if self.password:
            (self.airflow_home / "simple_auth_manager_passwords.json.generated").write_text(
                json.dumps({USER: self.password}))
        log = (self.root / "airflow-standalone.log").open("w")
        # A session of its own: Ctrl-C (SIGINT) goes to every component, and stop() can end them all.
        self.airflow = subprocess.Popen([sys.executable, "-m", "airflow", "standalone"], cwd=REPO, env=env,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_healthy(timeout)
        self.started_at = datetime.now(UTC)
        if self.password is None:
            self.password = self.login()[1]

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.airflow.poll() is not None:
                raise RuntimeError(f"airflow standalone exited:\n{self.log_tail()}")
            try:
                health = json.loads(urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=2).read())
                if all((health.get(c) or {}).get("status") == "healthy"
                       for c in ("metadatabase", "scheduler", "triggerer", "dag_processor")):
                    return
            except (OSError, ValueError):
                pass
            time.sleep(1)
        raise TimeoutError(f"Airflow did not become healthy in {timeout:.0f}s:\n{self.log_tail()}")

    def login(self) -> tuple[str, str]:
        passwords = json.loads((self.airflow_home / "simple_auth_manager_passwords.json.generated").read_text())
        return USER, passwords[USER]

    def log_tail(self, lines: int = 60) -> str:
        path = self.root / "airflow-standalone.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        if self.airflow and self.airflow.poll() is None:
            os.killpg(self.airflow.pid, signal.SIGINT)
            try:
                self.airflow.wait(timeout=45)
            except subprocess.TimeoutExpired:
                os.killpg(self.airflow.pid, signal.SIGKILL)
                self.airflow.wait()
        try:  # components that outlived standalone
            os.killpg(self.airflow.pid, signal.SIGKILL)
        except (ProcessLookupError, AttributeError, PermissionError):
            pass
        if self.sandbox and self.sandbox.poll() is None:
            self.sandbox.terminate()
            self.sandbox.wait(timeout=30)

    # -- REST API ------------------------------------------------------------------------------------------
    def token(self) -> str:
        if self._token is None or self._token[1] < time.monotonic():
            body = json.dumps({"username": USER, "password": self.password}).encode()
            req = urllib.request.Request(f"{self.url}/auth/token", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
            token = json.loads(urllib.request.urlopen(req, timeout=10).read())["access_token"]
            self._token = (token, time.monotonic() + 600)
        return self._token[0]

    def api(self, method: str, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(f"{self.url}/api/v2{path}", data=data, method=method, headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {self.token()}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                body = resp.read()
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path}: {e.code} {e.read().decode(errors='replace')[:2000]}") from None
        return json.loads(body) if body else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080, help="the UI and REST API (default 8080)")
    parser.add_argument("--sandbox-port", type=int, default=4566)
    parser.add_argument("--state-dir", default=str(REPO / ".stack"))
    args = parser.parse_args(argv)
    # Stop on Ctrl-C even when started from a shell that ignores SIGINT for background jobs, and on a
    # plain `kill`: airflow standalone runs in its own session, so nothing else would stop it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    stack = Stack(Path(args.state_dir), api_port=args.port, sandbox_port=free_port(args.sandbox_port))
    print("Starting the sandbox, seeding it, and starting Airflow (scheduler, dag-processor, triggerer, "
          "api-server); this takes about a minute...", flush=True)
    try:
        stack.start()
        user, password = stack.login()
        print(f"""
Airflow UI:   {stack.url}    login: {user} / {password}
REST API:     {stack.url}/api/v2 (token: POST {stack.url}/auth/token)
Sandbox:      {stack.endpoint}   (`python -m sandbox status --port {stack.endpoint.rsplit(':', 1)[1]}`)
Airflow home: {stack.airflow_home}   logs: {stack.root / 'airflow-standalone.log'}

demand_forecast is paused: unpause it in the UI, or backfill with
  AIRFLOW_HOME={stack.airflow_home} airflow backfill create --dag-id demand_forecast \\
      --from-date <D1> --to-date <D2>
Ctrl-C stops everything.""", flush=True)
        while stack.airflow.poll() is None:
            time.sleep(1)
        print(f"airflow standalone exited:\n{stack.log_tail()}")
        return 1
    except KeyboardInterrupt:
        print("\nStopping Airflow and the sandbox...", flush=True)
        return 0
    finally:
        stack.stop()
        print("Stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
