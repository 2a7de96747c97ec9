"""A run plan as prepare_run builds it, for tests that need one without Airflow or AWS."""

import json
from datetime import date

from batchml.config import PipelineSettings
from batchml.demand_forecast import plan
from batchml.environment import EnvironmentConfig
from sandbox.profile import pipeline_environment


def sample_plan(day: date = date(2026, 11, 20), champion=None) -> dict:
    """The plan as XCom carries it (JSON), which is what every reader gets."""
    settings = PipelineSettings.load("demand_forecast")
    env = EnvironmentConfig.from_json(json.dumps(pipeline_environment()), "test")
    code = {"digest": "abc123def456", "files": "s3://demand-forecast-sandbox/ml/demand_forecast/code/abc/src/",
            "sourcedir": "s3://demand-forecast-sandbox/ml/demand_forecast/code/abc/sourcedir.tar.gz"}
    return plan.build(settings=settings, env=env, day=day, run_id="manual__2026-11-21T08:00:00+00:00",
                      run_type="manual", params={"history_days": 548, "note": ""},
                      image_uri="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3",
                      code=code, champion=champion).to_xcom()
