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


def test_typos_inside_free_form_maps_are_named_with_their_path(tmp_path):
    """Why case 4: each of these was silently ignored or fell back to a default."""
    def break_it(doc):
        doc["model"]["hyperparameters"]["max_iters"] = 300
        doc["model"]["hyperparameters"]["learning_rate"] = 0
        doc["quality"]["max_null_fraction"]["unit_sold"] = 0.0
        doc["quality"]["required_columns"].append("sales_day")

    with pytest.raises(ConfigError) as err:
        PipelineSettings.load("demand_forecast", _write(tmp_path, break_it))
    text = str(err.value)
    assert "model.hyperparameters.max_iters: train.py takes no hyperparameter 'max_iters' (it takes " in text
    assert "model.hyperparameters.learning_rate: 0 must be above 0" in text
    assert "quality.max_null_fraction.unit_sold: not a column of the training extract (store_id, item_id" in text
    assert "quality.required_columns.7: 'sales_day' is not a column of the training extract" in text


def test_the_default_history_must_cover_what_the_model_needs(tmp_path):
    with pytest.raises(ConfigError, match="data.history_days: 548 is too short: 600 training origins, the 7-day "
                                          "holdout, 28 days of lags and D need 636"):
        PipelineSettings.load("demand_forecast", _write(tmp_path, lambda d: d["model"].update(training_origins_days=600)))


def test_every_plausibility_bound_needs_a_reason(tmp_path):
    with pytest.raises(ConfigError, match="quality.plausibility.day_total: 'reason' is a required property"):
        PipelineSettings.load("demand_forecast",
                              _write(tmp_path, lambda d: d["quality"]["plausibility"]["day_total"].pop("reason")))


def test_timeouts_must_name_tasks_of_the_dag(tmp_path):
    from batchml.config import unknown_task_ids

    settings = PipelineSettings.load("demand_forecast", _write(tmp_path, lambda d: d["timeouts_minutes"].update(trian=150)))
    with pytest.raises(ConfigError, match="timeouts_minutes.trian: no task 'trian' in demand_forecast"):
        unknown_task_ids(settings, {"train", "preprocess", "evaluate", "batch_predict"})


def test_hyperparameters_train_py_takes_are_the_ones_declared_for_it():
    """One source: the settings are checked against the same declaration train.py builds its parser from."""
    from batchml.demand_forecast.contract import scripts

    train = (INCLUDE_DIR / "scripts" / "demand_forecast" / "train.py").read_text()
    assert "for name, spec in HYPERPARAMETERS.items()" in train and "--max_iter" not in train
    assert set(PipelineSettings.load("demand_forecast").model.hyperparameters) <= set(scripts().HYPERPARAMETERS)
