"""The conformance suite's own venv for client tools whose pins need not match the project's.

awswrangler pins its own ranges of boto3, pandas and pyarrow, and tpchgen-cli is only a data
generator, so they live in ``.cache/conformance-venv-<hash of requirements-clients.txt>/`` instead
of the project's lock. The first test that needs it builds it (about 20 s and 100 MB from PyPI or
the local wheel mirror); an exclusive file lock makes parallel pytest workers build it once, and a
marker file written last means a half-built venv is never used.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = Path(__file__).with_name("requirements-clients.txt")
SAGEMAKER_V2 = Path(__file__).with_name("requirements-sagemaker-v2.txt")
SAGEMAKER_V3 = Path(__file__).with_name("requirements-sagemaker-v3.txt")
CACHE = REPO / ".cache"


def client_venv(requirements: Path = REQUIREMENTS) -> Path:
    """The venv for ``requirements`` (a file beside this one), built on first use."""
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    name = "conformance-venv" if requirements == REQUIREMENTS else requirements.stem.removeprefix("requirements-")
    venv = CACHE / f"{name}-{digest}"
    done = venv / ".complete"
    if done.exists():
        return venv
    CACHE.mkdir(exist_ok=True)
    with (CACHE / f"{name}-{digest}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            # --no-compile: byte-compiling every installed module up front costs more than the tests' own
            # imports compile (SDK v2 from the pip cache: 20.7 s -> 13.7 s).
            subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                            "--no-compile", "-r", str(requirements)], check=True)
            done.write_text(digest)
    return venv


def tpch_data(scale: float) -> Path:
    """TPC-H tables as Parquet files (``<table>.parquet``) at ``scale``, generated once and cached."""
    out = CACHE / f"tpch-sf{scale}"
    done = out / ".complete"
    if done.exists():
        return out
    CACHE.mkdir(exist_ok=True)
    with (CACHE / f"tpch-sf{scale}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(out, ignore_errors=True)
            subprocess.run([str(client_venv() / "bin" / "tpchgen-cli"), "parquet", "-s", str(scale),
                            "--output-dir", str(out)], check=True, capture_output=True)
            done.write_text(str(scale))
    return out
