"""The project's Airflow plugin: the model-quality view in the UI, and the operators' extra links.

Airflow loads this file from ``plugins/`` (the ``batchml`` package itself is excluded by ``.airflowignore`` and
imported as a package). The view is a FastAPI app mounted on the API server (Airflow 3's ``fastapi_apps``) and
shown inside the UI's navigation as an ``external_views`` entry (``url_route`` makes the UI embed it).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from batchml.operators.links import (
    AthenaQueryLink,
    QuickSightDataSetLink,
    SageMakerJobLink,
    SageMakerJobLogsLink,
)
from batchml.ui.app import app as model_quality_app


class BatchMLPlugin(AirflowPlugin):
    name = "batchml"
    fastapi_apps = [{"app": model_quality_app, "url_prefix": "/model-quality", "name": "Model quality"}]
    external_views = [{"name": "Model quality", "href": "/model-quality/", "destination": "nav",
                       "category": "browse", "url_route": "model-quality"}]
    operator_extra_links = [SageMakerJobLink(), SageMakerJobLogsLink(), AthenaQueryLink(), QuickSightDataSetLink()]
