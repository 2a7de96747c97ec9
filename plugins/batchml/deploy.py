"""``python -m batchml.deploy <pipeline>``: what a pipeline needs inside Airflow, from its configuration.

Today that is the pool its SageMaker job tasks take a slot of: named in the pipeline settings
(``sagemaker_pool``), sized by ``sagemaker_job_quota`` in the ``<pipeline>_env`` Variable (the account's
concurrent-job quota), and counting deferred tasks, because a SageMaker task waits deferred while its
job runs. A 60-day backfill then never has more jobs running than the quota allows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from batchml.config import PipelineSettings
from batchml.environment import EnvironmentConfig


def airflow(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "airflow", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"`airflow {' '.join(args)}` failed:\n{done.stderr[-2000:]}")
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pipeline")
    args = parser.parse_args(argv)
    settings = PipelineSettings.load(args.pipeline)
    env = EnvironmentConfig.load(args.pipeline, metadata_db=True)
    pool = settings.sagemaker_pool
    airflow("pools", "set", pool, str(env.sagemaker_job_quota),
            f"{args.pipeline}: SageMaker jobs running at once (the account's quota)", "--include-deferred")
    print(json.dumps({"pool": pool, "slots": env.sagemaker_job_quota, "include_deferred": True}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
