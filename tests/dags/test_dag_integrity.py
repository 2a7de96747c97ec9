"""DAG integrity and policy: every DAG parses, every task can recover and alert, parsing stays light,
and the timetable maps scheduled, manual and backfill runs to the partition days they should process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest

from batchml.demand_forecast.plan import partition_day
from batchml.notifiers import OnCallNotifier
from tests.conftest import REPO

DAGS = REPO / "dags"


@pytest.fixture(scope="module")
def bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(bag):
    assert bag.import_errors == {}
    assert "demand_forecast" in bag.dags


def test_every_task_retries_with_backoff_times_out_and_pages(bag):
    for dag in bag.dags.values():
        for task in dag.tasks:
            where = f"{dag.dag_id}.{task.task_id}"
            assert task.retries >= 2, where
            assert task.retry_exponential_backoff and float(task.retry_exponential_backoff) > 1, where
            assert task.max_retry_delay is not None and task.max_retry_delay >= task.retry_delay, where
            assert task.execution_timeout is not None, where
            assert any(isinstance(cb, OnCallNotifier) for cb in task.on_failure_callback or []), where
            assert task.owner and task.owner != "airflow", where


def test_dags_have_tags_docs_and_no_catchup(bag):
    for dag in bag.dags.values():
        assert dag.tags and dag.doc_md and "Which day a run processes" in dag.doc_md
        assert dag.catchup is False


def test_sagemaker_jobs_take_a_pool_slot_and_waits_are_deferrable(bag):
    dag = bag.dags["demand_forecast"]
    for task_id in ("preprocess", "train", "evaluate", "batch_predict"):
        task = dag.get_task(task_id)
        assert task.pool == "sagemaker_jobs" and task.deferrable, task_id
    for task_id in ("extract_training", "extract_scoring"):
        assert dag.get_task(task_id).deferrable, task_id


def test_waits_poll_at_the_configured_interval(bag):
    from batchml.config import PipelineSettings

    settings, dag = PipelineSettings.load("demand_forecast"), bag.dags["demand_forecast"]
    assert dag.get_task("wait_for_sales").poke_interval == settings.data.sales_poke_seconds
    champion = dag.get_task("find_champion")
    assert champion.poke_interval == settings.model.champion_poke_seconds == 30
    assert champion.timeout == 12 * 3600


def test_chain_of_steps(bag):
    dag = bag.dags["demand_forecast"]
    order = ["prepare_run", "wait_for_sales", "extract_training", "check_data_quality", "preprocess", "train",
             "find_champion", "evaluate", "gate", "register_model", "batch_predict", "publish_predictions"]
    for upstream, downstream in zip(order, order[1:], strict=False):
        assert downstream in dag.get_task(upstream).get_direct_relative_ids(upstream=False) or \
            downstream in {t.task_id for t in dag.get_task(upstream).get_flat_relatives(upstream=False)}, (upstream, downstream)
    assert dag.get_task("batch_predict").trigger_rule == "none_failed_min_one_success"


@pytest.fixture(scope="module")
def fresh_interpreter() -> dict[str, list[str]]:
    """What a fresh interpreter imports: first Airflow's plugin loader over plugins/, then a DagBag over
    dags/. Both questions need an interpreter that has imported nothing else, and one start answers both
    (each start costs seconds)."""
    code = (
        "import sys, json; sys.path[:0] = ['plugins', '.']\n"
        "from airflow._shared.plugins_manager.plugins_manager import _load_plugins_from_plugin_directory\n"
        "plugins, errors = _load_plugins_from_plugin_directory('plugins')\n"
        "assert not errors, errors\n"
        # the plugin (plugins/batchml_plugin.py) imports the package as `batchml.*`; any other name for one of
        # its files is the loader importing it as a top-level module
        "leaked = sorted(n for n, m in sys.modules.items() if 'plugins/batchml/' in (getattr(m, '__file__', '') or '')"
        " and n != 'batchml' and not n.startswith('batchml.'))\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        "bag = DagBag(dag_folder='dags')\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "heavy = [m for m in ('pandas', 'numpy', 'sagemaker', 'sklearn', 'duckdb', 'pyarrow') if m in sys.modules]\n"
        "print('FACTS=' + json.dumps({'leaked': leaked, 'heavy': heavy}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                         env={**os.environ, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"})
    return json.loads(out.stdout.split("FACTS=", 1)[1])


def test_parsing_imports_nothing_heavy(fresh_interpreter):
    assert fresh_interpreter["heavy"] == []


def test_bad_settings_are_a_dag_import_error_naming_the_field(tmp_path, monkeypatch):
    import yaml
    from airflow.dag_processing.dagbag import DagBag

    settings = yaml.safe_load((REPO / "include" / "config" / "demand_forecast.yaml").read_text())
    settings["gate"]["max_wape"] = -1
    (tmp_path / "demand_forecast.yaml").write_text(yaml.safe_dump(settings))
    monkeypatch.setenv("BATCHML_CONFIG_DIR", str(tmp_path))  # a DagBag executes the DAG file afresh
    # (only demand_forecast.py: the directory holds no settings for the other pipelines)
    [message] = DagBag(dag_folder=str(DAGS / "demand_forecast.py")).import_errors.values()
    assert "gate.max_wape: -1 is less than or equal to the minimum of 0" in message


def _serialized(bag):
    from airflow.serialization.serialized_objects import DagSerialization

    return DagSerialization.from_dict(DagSerialization.to_dict(bag.dags["demand_forecast"]))


def test_scheduled_run_processes_the_day_that_just_ended(bag):
    from airflow.timetables.base import TimeRestriction

    dag = _serialized(bag)
    info = dag.timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=datetime(2026, 11, 20, tzinfo=UTC), latest=None, catchup=True))
    assert info.run_after == datetime(2026, 11, 21, tzinfo=UTC)
    assert partition_day(info.data_interval.start, info.run_after) == date(2026, 11, 20)


def test_backfill_processes_exactly_the_requested_days(bag):
    from airflow.models.backfill import _get_info_list  # what `airflow backfill create` uses

    infos = _get_info_list(from_date=datetime(2026, 11, 1, tzinfo=UTC), to_date=datetime(2026, 11, 3, tzinfo=UTC),
                           reverse=False, dag=_serialized(bag))
    now = datetime(2026, 11, 21, 12, tzinfo=UTC)
    assert [partition_day(i.logical_date, now) for i in infos] == [date(2026, 11, 1) + timedelta(days=k) for k in range(3)]


def test_manual_run_processes_its_logical_day():
    # `airflow dags test demand_forecast 2026-11-20` and the UI both set the logical date to that day.
    assert partition_day(datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, 9, tzinfo=UTC)) == date(2026, 11, 20)


def test_extract_sql_comes_from_include_files_with_bound_parameters(bag):
    from batchml.sql import placeholders
    from tests.unit.sample_plan import sample_plan

    dag = bag.dags["demand_forecast"]
    for task_id, expected in (("extract_training", {"history_start", "partition_date"}),
                              ("extract_scoring", {"active_start", "partition_date", "first_day", "last_day"})):
        task = dag.get_task(task_id)
        # The DagBag has already replaced the .sql path with the file's text.
        assert task.sql.startswith("-- demand_forecast:"), task_id
        # The parameters are what the task's request builder makes of a run plan.
        parameters = task.request(sample_plan()).parameters
        assert {name for name, _, _ in placeholders(task.sql)} == expected == set(parameters), task_id


def test_plugin_loader_does_not_shadow_libraries(fresh_interpreter):
    """Airflow imports every .py under plugins/ as a top-level module named after the file unless
    .airflowignore excludes it: batchml/operators/sagemaker.py would become `sagemaker`."""
    assert fresh_interpreter["leaked"] == []


def test_params_can_be_submitted_from_the_ui_with_their_defaults(bag):
    """The UI's trigger and backfill forms treat an empty string as missing: a Param must have a real
    default or allow null, or nobody can start a run without typing something."""
    for dag in bag.dags.values():
        for name, param in dag.params.items():
            param.resolve()  # the default validates against its own schema
            schema_type = param.schema.get("type")
            allows_null = "null" in (schema_type if isinstance(schema_type, list) else [schema_type])
            assert param.value not in ("", None) or allows_null, (dag.dag_id, name)


def test_the_publish_deadline_is_on_unless_switched_off(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    def deadlines() -> list[str]:
        dag = DagBag(dag_folder=str(DAGS)).dags["demand_forecast"]
        return [str(d.interval) for d in dag.deadline or []]

    monkeypatch.delenv("BATCHML_DEADLINE_ALERTS", raising=False)
    assert deadlines() == ["1 day, 8:00:00"]
    monkeypatch.setenv("BATCHML_DEADLINE_ALERTS", "off")
    assert deadlines() == []


def test_typos_in_free_form_settings_maps_are_dag_import_errors_naming_the_field(tmp_path, monkeypatch):
    """Why case 4: `max_iters`, `trian` and `unit_sold` used to pass and be silently ignored."""
    import yaml
    from airflow.dag_processing.dagbag import DagBag

    shipped = (REPO / "include" / "config" / "demand_forecast.yaml").read_text()
    settings = yaml.safe_load(shipped)
    settings["model"]["hyperparameters"]["max_iters"] = 300
    settings["quality"]["max_null_fraction"]["unit_sold"] = 0.0
    settings["timeouts_minutes"]["trian"] = 150
    (tmp_path / "demand_forecast.yaml").write_text(yaml.safe_dump(settings))
    monkeypatch.setenv("BATCHML_CONFIG_DIR", str(tmp_path))
    [message] = DagBag(dag_folder=str(DAGS / "demand_forecast.py")).import_errors.values()
    assert "model.hyperparameters.max_iters: train.py takes no hyperparameter 'max_iters'" in message
    assert "quality.max_null_fraction.unit_sold: not a column of the training extract" in message
    # task ids are known once the DAG is built, so a misspelt one is reported when the rest is right
    settings = yaml.safe_load(shipped)
    settings["timeouts_minutes"]["trian"] = 150
    (tmp_path / "demand_forecast.yaml").write_text(yaml.safe_dump(settings))
    [message] = DagBag(dag_folder=str(DAGS / "demand_forecast.py")).import_errors.values()
    assert "timeouts_minutes.trian: no task 'trian' in demand_forecast" in message


def test_forecast_monitoring_waits_for_the_days_sales_then_measures_publishes_and_judges(bag):
    """The second daily DAG: one chain, the data trigger deferrable, its SQL from include files, its two tables
    published as Assets (what dashboard_refresh is triggered by), and one run at a time (a day's alert reads
    the days before it)."""
    dag = bag.dags["forecast_monitoring"]
    upstream = {t.task_id: t.upstream_task_ids - {"prepare_run"} for t in dag.tasks}
    assert upstream == {
        "prepare_run": set(), "wait_for_sales": set(),
        "measure_accuracy": {"wait_for_sales"}, "measure_drift": {"wait_for_sales"},
        "publish_accuracy": {"measure_accuracy"}, "publish_drift": {"measure_drift"},
        "read_alert_inputs": {"publish_accuracy", "publish_drift"}, "judge": {"read_alert_inputs"},
    }
    assert dag.get_task("wait_for_sales").deferrable and dag.max_active_runs == 1
    for task_id in ("measure_accuracy", "measure_drift", "read_alert_inputs"):
        task = dag.get_task(task_id)
        assert task.deferrable and task.sql.startswith("-- forecast_monitoring:"), task_id
    assert [a.name for a in dag.get_task("publish_accuracy").outlets] == ["demand_forecast.forecast_accuracy"]
    assert [a.name for a in dag.get_task("publish_drift").outlets] == ["demand_forecast.input_drift"]
