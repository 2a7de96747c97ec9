"""Extra links: the SageMaker job in the console, its CloudWatch logs, the Athena query."""

from __future__ import annotations

from batchml.demand_forecast import requests
from batchml.operators.athena import AthenaUnloadOperator
from batchml.operators.sagemaker import SageMakerTrainingJobOperator, SageMakerTransformJobOperator


def _ran(op, work_id: str, region: str = "eu-west-1"):
    op._work_id, op.region_name = work_id, region
    return {link.name: link.get_link(op, ti_key=None) for link in op.operator_extra_links}


def test_sagemaker_links_point_at_the_job_the_task_ran_and_its_logs():
    op = SageMakerTrainingJobOperator(task_id="train", job_name_prefix="p", request=requests.training)
    assert {link.name: link.get_link(op, ti_key=None) for link in op.operator_extra_links} == {
        "SageMaker job": "", "SageMaker job logs": ""}  # nothing started, nothing to link
    links = _ran(op, "demand-forecast-train-20261120-2")
    assert links["SageMaker job"] == ("https://console.aws.amazon.com/sagemaker/home?region=eu-west-1"
                                      "#/jobs/demand-forecast-train-20261120-2")
    assert links["SageMaker job logs"] == (
        "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/"
        "$252Faws$252Fsagemaker$252FTrainingJobs$3FlogStreamNameFilter$3Ddemand-forecast-train-20261120-2")
    transform = SageMakerTransformJobOperator(task_id="p", job_name_prefix="p", request=requests.batch_prediction)
    assert _ran(transform, "j-1")["SageMaker job"].endswith("#/transform-jobs/j-1")


def test_athena_link_points_at_the_query():
    op = AthenaUnloadOperator(task_id="x", sql="SELECT 1", request=requests.extract_training)
    assert _ran(op, "f7f8e301")["Athena query"] == (
        "https://console.aws.amazon.com/athena/home?region=eu-west-1#/query-editor/history/f7f8e301")


def test_the_dag_serializes_its_links_by_name():
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    from tests.conftest import REPO

    dag = DagBag(dag_folder=str(REPO / "dags")).dags["demand_forecast"]
    restored = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    assert set(restored.get_task("train").extra_links) == {"SageMaker job", "SageMaker job logs"}
    assert set(restored.get_task("extract_training").extra_links) == {"Athena query"}


def test_quicksight_link_points_at_the_refreshed_data_set_and_the_plugin_registers_every_link():
    import importlib.util

    from batchml.operators.quicksight import QuickSightRefreshOperator
    from tests.conftest import REPO

    op = QuickSightRefreshOperator(task_id="refresh", data_set_id="demand-forecast-quality", ingestion_id="i",
                                   region_name="eu-west-1")
    [link] = op.operator_extra_links
    assert link.get_link(op, ti_key=None) == (
        "https://eu-west-1.quicksight.aws.amazon.com/sn/data-sets/demand-forecast-quality/view")
    spec = importlib.util.spec_from_file_location("batchml_plugin", REPO / "plugins" / "batchml_plugin.py")
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    registered = {type(link).__name__ for link in plugin.BatchMLPlugin.operator_extra_links}
    assert registered == {"SageMakerJobLink", "SageMakerJobLogsLink", "AthenaQueryLink", "QuickSightDataSetLink"}
    assert plugin.BatchMLPlugin.fastapi_apps[0]["url_prefix"] == "/model-quality"
