"""`make airflow` (tools/stack.py): it prints the UI and the login, and Ctrl-C stops everything it started."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from tests.conftest import REPO
from tools.stack import _unused_port

pytestmark = pytest.mark.scheduler


def test_ctrl_c_stops_everything_make_airflow_started(tmp_path):
    api_port, sandbox_port = _unused_port(), _unused_port()
    out = tmp_path / "stack.out"
    with out.open("w") as sink:
        # Its own session, as a terminal would start it, so the SIGINT below reaches only this tool.
        proc = subprocess.Popen(
            [sys.executable, "tools/stack.py", "--port", str(api_port), "--sandbox-port", str(sandbox_port),
             "--state-dir", str(tmp_path / "state")],
            cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    started: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 300
        while "Ctrl-C stops everything." not in out.read_text():
            assert proc.poll() is None, f"tools/stack.py exited early:\n{out.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"the stack did not come up:\n{out.read_text()[-3000:]}"
            time.sleep(1)
        printed = out.read_text()
        assert f"Airflow UI:   http://localhost:{api_port}" in printed
        password = re.search(r"login: admin / (\S+)", printed).group(1)

        # The printed login works against the running api-server.
        req = urllib.request.Request(f"http://localhost:{api_port}/auth/token", method="POST",
                                     data=json.dumps({"username": "admin", "password": password}).encode(),
                                     headers={"Content-Type": "application/json"})
        assert json.loads(urllib.request.urlopen(req, timeout=10).read())["access_token"]

        # Every command it prints works exactly as printed, pasted into a new shell at the repo root.
        commands = re.search(r"In another shell, at the repo root:\n(.*)Ctrl-C stops everything", printed, re.S)
        pasted = [line.strip() for line in commands.group(1).splitlines() if line.startswith("  ")]
        assert len(pasted) == 3 and "backfill" in pasted[1] and pasted[2].startswith("source "), printed
        new_shell = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
        for command in pasted:
            done = subprocess.run(["bash", "-c", command], cwd=REPO, env=new_shell, capture_output=True, text=True,
                                  timeout=300)
            assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        token = json.loads(urllib.request.urlopen(req, timeout=10).read())["access_token"]
        backfills = urllib.request.Request(f"http://localhost:{api_port}/api/v2/backfills?dag_id=demand_forecast",
                                           headers={"Authorization": f"Bearer {token}"})
        [created] = json.loads(urllib.request.urlopen(backfills, timeout=10).read())["backfills"]
        assert created["dag_id"] == "demand_forecast" and created["from_date"][:10] == pasted[1].split()[-3]

        started = psutil.Process(proc.pid).children(recursive=True)
        titles = " ".join(" ".join(p.cmdline()) for p in started)
        for component in ("sandbox serve", "standalone", "scheduler", "dag-processor", "triggerer", "api_server"):
            assert component in titles, f"{component} not among the started processes: {titles}"

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 0, out.read_text()[-3000:]
        _, alive = psutil.wait_procs(started, timeout=15)
        assert not alive, f"still running after Ctrl-C: {[' '.join(p.cmdline()) for p in alive]}"
        for port in (api_port, sandbox_port):
            with socket.socket() as s:
                assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers after Ctrl-C"
        assert "Stopped." in out.read_text()
    finally:  # whatever the outcome, leave nothing running
        if proc.poll() is None:
            started = started or psutil.Process(proc.pid).children(recursive=True)
            proc.kill()
        for p in started:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
