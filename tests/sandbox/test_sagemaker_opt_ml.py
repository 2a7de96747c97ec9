"""A real /opt/ml inside each job (bwrap mount namespaces, sandbox/sagemaker/containers.py): a script that
hard-codes /opt/ml/processing/... works as in a container, a job cannot see another job's directory, and
where namespaces are unavailable the sandbox says so in its status and falls back to relocation.

`make test` installs bubblewrap (tools/system-packages.txt), so these tests require it rather than skip.
"""

from __future__ import annotations

import json

import pytest

from sandbox.sagemaker.containers import isolation
from tests.conftest import start_sandbox, stop_sandbox
from tests.sandbox.jobs.sm_support import get, make_bucket, processing_request, put, s3_input, s3_output, wait

# Hard-codes every path, like the provider's example processing script and AWS's processing examples.
HARD_CODED = """
import json, os, pathlib, sys
rows = pathlib.Path("/opt/ml/processing/input/data/a.csv").read_text().splitlines()
out = pathlib.Path("/opt/ml/processing/output")
jobs_root = sys.argv[1]
seen = sorted(os.listdir(jobs_root)) if os.path.isdir(jobs_root) else None
(out / "result.json").write_text(json.dumps({"rows": len(rows), "jobs_seen": seen,
                                             "config": os.path.exists("/opt/ml/config/processingjobconfig.json")}))
"""


def _hard_coded_job(aws, bucket: str, name: str, jobs_root: str) -> dict:
    script = put(aws, bucket, "code/hard_coded.py", HARD_CODED)
    return processing_request(
        name, bucket, script, [jobs_root],
        inputs=[s3_input("data", f"s3://{bucket}/data/", "/opt/ml/processing/input/data")],
        outputs=[s3_output("out", f"s3://{bucket}/out/{name}", "/opt/ml/processing/output")],
    )


def test_bwrap_namespaces_are_available_here():
    available, how = isolation()
    assert available, how


def test_a_script_that_hard_codes_opt_ml_works_and_sees_no_other_job(sandbox, aws, unique):
    bucket = make_bucket(aws, unique)
    put(aws, bucket, "data/a.csv", "id,value\n1,2\n3,4\n")
    sm = aws("sagemaker")
    jobs_root = str(sandbox.state_dir / "jobs" / "processing")
    names = [f"{unique}-a", f"{unique}-b"]
    for name in names:  # both at once: neither may see the other's directory
        sm.create_processing_job(**_hard_coded_job(aws, bucket, name, jobs_root))
    for name in names:
        done = wait(sm, "processing", name, timeout=60)
        assert done["ProcessingJobStatus"] == "Completed", done.get("FailureReason")
        result = json.loads(get(aws, bucket, f"out/{name}/result.json"))
        assert result["rows"] == 3 and result["config"] is True
        assert result["jobs_seen"] == [name], "a job sees only its own directory among the jobs"
    assert "own mount namespace" in sandbox.client.status()["sagemaker"]["opt_ml"]


def test_without_namespaces_the_sandbox_relocates_and_says_so(tmp_path, monkeypatch):
    """The fallback: status names it, and a hard-coded /opt/ml path fails as the README says."""
    monkeypatch.setenv("SANDBOX_JOB_ISOLATION", "relocation")
    proc, handle = start_sandbox(tmp_path)
    try:
        status = handle.client.status()["sagemaker"]["opt_ml"]
        assert status.startswith("relocation forced by SANDBOX_JOB_ISOLATION=relocation")

        def aws(service, **kwargs):
            return handle.boto3_client(service, **kwargs)

        bucket = make_bucket(aws, "relocated")
        put(aws, bucket, "data/a.csv", "id\n1\n")
        aws("sagemaker").create_processing_job(**_hard_coded_job(aws, bucket, "relocated", "/nonexistent"))
        done = wait(aws("sagemaker"), "processing", "relocated", timeout=60)
        assert done["ProcessingJobStatus"] == "Failed"
        assert "FileNotFoundError" in done["FailureReason"] and "/opt/ml/processing/input/data" in done["FailureReason"]
    finally:
        stop_sandbox(proc)


@pytest.mark.parametrize("isolated", [True, False])
def test_the_process_group_is_stopped_with_its_grace_period(isolated, tmp_path):
    """Under bwrap, SIGTERM ends bwrap at once: the grace period must last until the job itself is gone."""
    import subprocess
    import time

    from sandbox.sagemaker.containers import isolate
    from sandbox.sagemaker.process import JobProcess, Launch

    class Sink:
        def add(self, *args):
            pass

    cmd = ["bash", "-c", "trap '' TERM; sleep 30"]
    jobs = tmp_path / "jobs"
    (jobs / "j").mkdir(parents=True, exist_ok=True)
    launch = Launch(cmd=isolate(cmd, jobs / "j", jobs) if isolated else cmd, cwd="/", env={"PATH": "/usr/bin:/bin"},
                    sink=Sink(), isolated=isolated)
    process = JobProcess(launch)
    process.start()
    time.sleep(0.5)
    started = time.monotonic()
    process.terminate(grace=1.0)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 5, elapsed
    assert process.proc.poll() is not None

    def alive() -> list[str]:  # members of the group that are not zombies
        found = subprocess.run(["ps", "-o", "pid=,stat=", "-g", str(process.proc.pid)], capture_output=True, text=True)
        return [line for line in found.stdout.splitlines() if "Z" not in line.split()[1]]

    deadline = time.monotonic() + 3
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive()
