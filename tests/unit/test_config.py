"""Pipeline settings fail loudly at parse time; the environment is validated at run time."""

import json

import pytest
import yaml

from batchml.config import INCLUDE_DIR, ConfigError, PipelineSettings
from batchml.environment import EnvironmentConfig
from sandbox.profile import pipeline_environment


def test_the_shipped_settings_are_valid():
    settings = PipelineSettings.load("demand_forecast")
    assert settings.retry_args()["retries"] >= 2
    assert settings.retry_args()["retry_exponential_backoff"] > 1


def _write(tmp_path, mutate):
    doc = yaml.safe_load((INCLUDE_DIR / "config" / "demand_forecast.yaml").read_text())
    mutate(doc)
    path = tmp_path / "demand_forecast.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_every_problem_is_named_with_its_path(tmp_path):
    def break_it(doc):
        doc["gate"]["max_wape"] = "low"
        doc["model"]["horizon_days"] = 30
        doc["retries"].pop("backoff")

    with pytest.raises(ConfigError) as err:
        PipelineSettings.load("demand_forecast", _write(tmp_path, break_it))
    text = str(err.value)
    assert "gate.max_wape: 'low' is not of type 'number'" in text
    assert "model.horizon_days: 30 is greater than the maximum of 7" in text
    assert "retries: 'backoff' is a required property" in text


def test_unknown_keys_are_rejected(tmp_path):
    with pytest.raises(ConfigError, match="Additional properties are not allowed \\('hyperparams'"):
        PipelineSettings.load("demand_forecast", _write(tmp_path, lambda d: d["model"].update(hyperparams={})))


def test_retry_delays_can_be_shortened_for_the_sandbox(monkeypatch):
    monkeypatch.setenv("BATCHML_RETRY_DELAY_SECONDS", "2")
    assert PipelineSettings.load("demand_forecast").retry_args()["retry_delay"].total_seconds() == 2


def test_sandbox_environment_is_valid():
    env = EnvironmentConfig.from_json(json.dumps(pipeline_environment()), "test")
    assert env.bucket == "demand-forecast-sandbox"


@pytest.mark.parametrize("change, message", [
    ({"bucket": "Not_A_Bucket"}, "bucket: 'Not_A_Bucket' does not match"),
    ({"sagemaker_role_arn": "my-role"}, "sagemaker_role_arn"),
    ({"raw_database": "retail; DROP"}, "raw_database"),
    ({"slack_channel": "oncall"}, "slack_channel"),
    ({"surprise": 1}, "Additional properties"),
])
def test_bad_environment_values_are_named(change, message):
    with pytest.raises(ConfigError, match=message):
        EnvironmentConfig.from_json(json.dumps({**pipeline_environment(), **change}), "Variable x")


def test_missing_environment_says_where_to_look():
    with pytest.raises(ConfigError, match="is not set: see README"):
        EnvironmentConfig.from_json(None, "Airflow Variable 'demand_forecast_env'")
