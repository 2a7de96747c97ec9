"""Extra links of the project's operators: the SageMaker job in the console, its CloudWatch logs, the Athena query.

Airflow 3 computes an operator's extra links in the worker when the task finishes (``task_runner.finalize``
calls ``get_link`` and stores the URL in XCom) and the UI shows them by name from the serialized DAG, so a link
needs only what the operator knew when it ran: the work it started or attached to, and the region. The
provider's links (``BaseAwsLink``) read a separate XCom entry the operator must push first; these read the
operator itself, so a retry that attached to an earlier try's job links to that job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk.types import TaskInstanceKey

CONSOLE = "https://console.aws.amazon.com"
# The console's paths for each SageMaker job type (training jobs are plain "jobs").
SAGEMAKER_PATHS = {"processing": "processing-jobs", "training": "jobs", "transform": "transform-jobs"}


def sagemaker_job_url(job_type: str, job_name: str, region: str) -> str:
    return f"{CONSOLE}/sagemaker/home?region={region}#/{SAGEMAKER_PATHS[job_type]}/{job_name}"


def sagemaker_logs_url(job_type: str, job_name: str, region: str) -> str:
    """The job's log group, filtered to its streams (``<job name>/...``), in CloudWatch's own URL escaping."""
    group = f"/aws/sagemaker/{job_type.capitalize()}Jobs"
    escaped = quote(group, safe="").replace("%", "$25")
    return (f"{CONSOLE}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{escaped}"
            f"$3FlogStreamNameFilter$3D{quote(job_name, safe='')}")


def athena_query_url(query_execution_id: str, region: str) -> str:
    return f"{CONSOLE}/athena/home?region={region}#/query-editor/history/{query_execution_id}"


def _started(operator: Any) -> tuple[str | None, str | None]:
    return getattr(operator, "_work_id", None), getattr(operator, "region_name", None)


class SageMakerJobLink(BaseOperatorLink):
    """The SageMaker job this task ran (or attached to), in the console."""

    name = "SageMaker job"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        job, region = _started(operator)
        return sagemaker_job_url(operator.job_type, job, region) if job and region else ""


class SageMakerJobLogsLink(BaseOperatorLink):
    """The CloudWatch logs of that job."""

    name = "SageMaker job logs"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        job, region = _started(operator)
        return sagemaker_logs_url(operator.job_type, job, region) if job and region else ""


class AthenaQueryLink(BaseOperatorLink):
    """The Athena query this task ran (or attached to), in the query editor's history."""

    name = "Athena query"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        query, region = _started(operator)
        return athena_query_url(query, region) if query and region else ""


def quicksight_data_set_url(data_set_id: str, region: str) -> str:
    return f"https://{region}.quicksight.aws.amazon.com/sn/data-sets/{quote(data_set_id, safe='')}/view"


class QuickSightDataSetLink(BaseOperatorLink):
    """The QuickSight data set this task refreshed (its refresh history lists the ingestion by id)."""

    name = "QuickSight data set"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        data_set, region = getattr(operator, "data_set_id", None), getattr(operator, "region_name", None)
        return quicksight_data_set_url(data_set, region) if data_set and region else ""
