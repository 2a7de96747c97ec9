"""What stands in for a SageMaker container: a job directory as ``/opt/ml``, the project's own Python
instead of the image's, and a clean environment instead of the image's.

Where ``bwrap`` (Debian's bubblewrap) can make mount namespaces, every job process runs in its own, in
which ``/opt/ml`` *is* the job's directory, so scripts that hard-code ``/opt/ml/...`` work as in a
container, and the other jobs' directories are hidden from it (the rest of the host's file system,
/tmp included, is shared, unlike containers). Elsewhere (no bwrap, or no
namespaces allowed) ``isolation()`` says why, and the sandbox falls back to relocation only: ``/opt/ml``
is rewritten to the job directory wherever the request names paths the process sees (entrypoint,
arguments, environment values, hyperparameter values), which scripts that hard-code it do not survive.
The rewrite happens in both modes (the job directory is also mounted at its own path inside the
namespace), so a job behaves the same apart from what it can see.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sandbox.context import SandboxContext

OPT_ML = "/opt/ml"
_OPT_ML = re.compile(r"/opt/ml(?=/|$|[\s:;,='\"])")
_PYTHON = re.compile(r"^(?:.*/)?python(?:3(?:\.\d+)?)?$")
# Host variables a process needs to run at all; nothing else from the server's environment leaks in.
_HOST_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SYSTEMROOT")
SANDBOX_ROOT = str(Path(__file__).resolve().parents[2])


def job_directory(ctx: SandboxContext, kind: str, region: str, name: str) -> Path:
    """``<state>/jobs/<kind>/<name>``; jobs of other regions than the default get their own subtree."""
    root = ctx.state_dir / "jobs"
    if region != ctx.default_region:
        root = root / region
    return root / kind / name


def rewrite(value: str, base: Path) -> str:
    return _OPT_ML.sub(str(base), value)


def rewrite_all(values: dict[str, str] | None, base: Path) -> dict[str, str]:
    return {k: rewrite(v, base) for k, v in (values or {}).items()}


def command(args: list[str], base: Path) -> list[str]:
    """The container command with ``/opt/ml`` rewritten and ``python``/``python3`` as this interpreter."""
    out = [rewrite(a, base) for a in args]
    if out and _PYTHON.match(out[0]):
        out[0] = sys.executable
    return out


def environment(ctx: SandboxContext, region: str, *layers: dict[str, str]) -> dict[str, str]:
    """Host basics, then the sandbox endpoint and credentials, then each layer in order (later wins)."""
    env = {k: os.environ[k] for k in _HOST_VARIABLES if k in os.environ}
    env["PYTHONUNBUFFERED"] = "1"  # container logs stream line by line; so must ours
    env.update(ctx.job_environment(region))
    for layer in layers:
        env.update(layer)
    return env


# Native thread pools a job's libraries size from the machine, not from the container's CPU limit.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_SIZE = re.compile(r"^ml\.[a-z0-9-]+\.(?:(\d*)xlarge|(large|medium|small))$")


def instance_vcpus(instance_type: str | None) -> int | None:
    """vCPUs of an ML instance type from its size, as EC2 sizes them: medium 2 (t2/t3), large 2, xlarge 4,
    Nxlarge 4N. None for a type whose size is unknown."""
    match = _SIZE.match(instance_type or "")
    if not match:
        return None
    if match.group(2):
        return {"small": 1, "medium": 2, "large": 2}[match.group(2)]
    return 4 * int(match.group(1) or 1)


def thread_environment(cpus: int, running: int, instance_type: str | None) -> dict[str, str]:
    """OMP/BLAS thread counts for a job: the CPUs its instance would have, but no more than its fair share
    of the sandbox's CPUs among the jobs running when it starts. On AWS each container has its own
    instance; here jobs share one machine, and a job whose OpenMP pool takes every core while another job
    runs spends its time switching threads (measured: 2.3-4.9x the wall time of the same run on one
    thread with one core busy). A request's own Environment still wins."""
    share = max(1, cpus // max(1, running))
    threads = min(share, instance_vcpus(instance_type) or share)
    return {name: str(threads) for name in THREAD_VARIABLES}


# -- a private /opt/ml per job ------------------------------------------------------------------------
@functools.cache
def isolation() -> tuple[bool, str]:
    """(True, how) when job processes get a private mount namespace with their own /opt/ml, else
    (False, why not). Probed once: bwrap must exist and be allowed to create the namespace here."""
    if os.environ.get("SANDBOX_JOB_ISOLATION") == "relocation":
        return False, "relocation forced by SANDBOX_JOB_ISOLATION=relocation"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False, "bwrap not found (Debian package bubblewrap): /opt/ml is relocated in paths only"
    with tempfile.TemporaryDirectory() as job_dir, tempfile.TemporaryDirectory() as jobs_root:
        Path(job_dir, "probe").write_text("ok")
        probe = isolate(["cat", f"{OPT_ML}/probe"], Path(job_dir), Path(jobs_root), bwrap=bwrap)
        try:
            done = subprocess.run(probe, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired) as e:
            return False, f"bwrap could not run ({e}): /opt/ml is relocated in paths only"
    if done.returncode != 0 or done.stdout != "ok":
        reason = (done.stderr.strip() or f"exit code {done.returncode}")[:300]
        return False, f"bwrap cannot create a mount namespace here ({reason}): /opt/ml is relocated in paths only"
    return True, f"each job in its own mount namespace ({bwrap}): /opt/ml is the job's directory"


def isolate(cmd: list[str], job_dir: Path, jobs_root: Path, *, bwrap: str | None = None) -> list[str]:
    """``cmd`` wrapped in bwrap: the host's file system as it is, except the jobs root hidden but for this
    job's own directory, and that directory mounted at /opt/ml. /opt is rebuilt from its entries so that
    /opt/ml needs no directory on the host. /tmp stays the host's (the project's tests hand jobs host paths
    to report through), so jobs share /tmp, unlike containers."""
    args = [bwrap or shutil.which("bwrap") or "bwrap", "--dev-bind", "/", "/"]
    opt = Path("/opt")
    args += ["--tmpfs", "/opt"]
    for entry in sorted(opt.iterdir()) if opt.is_dir() else []:
        if entry.name != "ml":
            args += ["--dev-bind", str(entry), str(entry)]
    args += ["--tmpfs", str(jobs_root), "--bind", str(job_dir), str(job_dir), "--bind", str(job_dir), OPT_ML]
    return [*args, "--", *cmd]
