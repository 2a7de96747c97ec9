"""Each of the project's operators, as the provider tests theirs (``validate_template_fields``): every template
field is an attribute set by the constructor, and the plan and upstream results are not template fields (they
resolve when the task runs, so ``airflow tasks render`` needs no XCom) but still make the upstream dependency."""

from __future__ import annotations

from datetime import datetime

import pytest
from airflow.sdk import DAG, task

from batchml.demand_forecast import requests
from batchml.operators.athena import AthenaUnloadOperator
from batchml.operators.glue import GlueCatalogUpsertPartitionOperator, GluePartitionSensor
from batchml.operators.sagemaker import (
    SageMakerProcessingJobOperator,
    SageMakerRegisterModelPackageOperator,
    SageMakerTrainingJobOperator,
    SageMakerTransformJobOperator,
)

OPERATORS = [
    (AthenaUnloadOperator, {"sql": "SELECT 1", "request": requests.extract_training}),
    (GlueCatalogUpsertPartitionOperator, {"request": requests.published_partition}),
    (GluePartitionSensor, {"request": requests.sales_partition}),
    (SageMakerProcessingJobOperator, {"step": "preprocess", "request": requests.preprocessing}),
    (SageMakerTrainingJobOperator, {"step": "train", "request": requests.training}),
    (SageMakerTransformJobOperator, {"step": "predict", "request": requests.batch_prediction}),
    (SageMakerRegisterModelPackageOperator, {"request": requests.model_package}),
]


@pytest.mark.parametrize("operator, kwargs", OPERATORS, ids=[o.__name__ for o, _ in OPERATORS])
def test_template_fields_are_attributes_and_inputs_are_wired(operator, kwargs):
    @task(multiple_outputs=False)
    def plan() -> dict:
        return {}

    @task(multiple_outputs=False)
    def upstream() -> dict:
        return {}

    with DAG("template_fields", schedule=None, start_date=datetime(2026, 1, 1)):
        run, earlier = plan(), upstream()
        op = operator(task_id="op", plan=run, request_kwargs={"earlier": earlier}, **kwargs)
    for field in op.template_fields:
        assert hasattr(op, field), field
    assert "plan" not in op.template_fields and "request_kwargs" not in op.template_fields
    assert op.upstream_task_ids == {"plan", "upstream"}
