"""The demand_forecast jobs, as requests built from the run plan (see plan.py) and upstream results.

Each function is pure and is what an operator calls (a job operator with the job name it picked), so a test
can build every request of a run from a sample plan and check it against botocore's model. Each takes the
plan as it comes out of XCom (JSON) or as the model, and validates the former into the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from batchml import job_requests

if TYPE_CHECKING:
    from batchml.demand_forecast.plan import RunPlan

    PlanLike = RunPlan | dict[str, Any]  # the plan, or its XCom value

METRIC_DEFINITIONS = [
    {"Name": name, "Regex": rf"{name}=([0-9.eE+-]+);"}
    for name in ("train_wape", "train_mae", "recent_wape", "fit_seconds", "training_rows")
]
SCORING_CONTENT_TYPE, PREDICTIONS_ACCEPT = "application/jsonlines", "text/csv"


def _of(run: PlanLike) -> RunPlan:
    """The plan, validated. Imported here: the DAG file imports this module, and the models are built only
    when a task runs, not on every parse."""
    from batchml.demand_forecast.plan import RunPlan

    return RunPlan.of(run)


def _champion(champion: dict[str, Any]):
    from batchml.demand_forecast.plan import Champion

    return Champion.model_validate(champion)


def _query(plan: RunPlan, output_prefix: str, parameters: dict[str, Any]) -> job_requests.UnloadQuery:
    env = plan.env
    return job_requests.UnloadQuery(database=env.raw_database, workgroup=env.athena_workgroup,
                                    output_prefix=output_prefix, parameters=parameters)


def sales_partition(run: PlanLike) -> job_requests.PartitionWait:
    """D's raw sales partition, which the run waits for. D is a date, so the expression holds no outside text."""
    plan = _of(run)
    return job_requests.PartitionWait(database=plan.env.raw_database, table="sales", expression=f"dt='{plan.day}'")


def extract_training(run: PlanLike) -> job_requests.UnloadQuery:
    """``extract_training.sql``: the history window, ending at D."""
    plan = _of(run)
    return _query(plan, plan.paths.extract_training,
                  {"history_start": plan.windows.history_start, "partition_date": plan.partition_date})


def extract_scoring(run: PlanLike) -> job_requests.UnloadQuery:
    """``extract_scoring.sql``: the series active before D and the days to forecast."""
    plan = _of(run)
    w = plan.windows
    return _query(plan, plan.paths.extract_scoring,
                  {"active_start": w.active_start, "partition_date": plan.partition_date,
                   "first_day": w.first_forecast_day, "last_day": w.last_forecast_day})


def profile_parameters(run: PlanLike) -> dict[str, Any]:
    """ExecutionParameters of ``profile_extracts.sql``: the extracts' windows and the plausibility bounds it
    counts against."""
    plan = _of(run)
    w, bounds = plan.windows, plan.quality.plausibility
    return {
        "history_start": w.history_start, "partition_date": plan.partition_date,
        "active_start": w.active_start, "first_day": w.first_forecast_day,
        "last_day": w.last_forecast_day, "baseline_start": w.baseline_start,
        "min_units": int(bounds.units_sold.min),
        "min_price": float(bounds.unit_price.min), "max_price": float(bounds.unit_price.max),
        "series_max_ratio": float(bounds.series_units.max_ratio),
        "series_floor_units": float(bounds.series_units.floor_units),
    }


def profile_extracts(run: PlanLike) -> job_requests.UnloadQuery:
    """``profile_extracts.sql``: one row of measurements of what the two extracts read."""
    plan = _of(run)
    return _query(plan, plan.paths.profile, profile_parameters(plan))


def published_partition(run: PlanLike, *, predictions: dict[str, Any]) -> job_requests.CatalogPartition:
    """Partition ``dt=D`` of ``<forecast_database>.predictions``, pointing at the Batch Transform's output."""
    plan = _of(run)
    return job_requests.CatalogPartition(database=plan.env.forecast_database, table="predictions",
                                         values=[plan.day], location=predictions["output_path"])


def _common(plan: RunPlan) -> dict[str, Any]:
    """What every job takes from the environment Variable: the role, the image, the KMS key, the VPC."""
    return {"role_arn": plan.env.sagemaker_role_arn, "image_uri": plan.image_uri,
            "kms_key_id": plan.env.kms_key_id, "vpc": _vpc(plan)}


def _vpc(plan: RunPlan) -> dict[str, list[str]] | None:
    return job_requests.vpc_config(plan.env.vpc_subnet_ids, plan.env.vpc_security_group_ids)


def _job_prefix(area: str, job_name: str) -> str:
    return f"{area}{job_name}/"


def preprocessing(run: PlanLike, *, job_name: str) -> dict[str, Any]:
    plan = _of(run)
    out = _job_prefix(plan.paths.features, job_name)
    return job_requests.processing_job(
        job_name=job_name, **_common(plan),
        instance_type=plan.model.processing_instance_type,
        code_uri=plan.code.files, script="preprocess.py",
        inputs={"training": plan.paths.extract_training, "scoring": plan.paths.extract_scoring},
        outputs={"train": out + "train/", "holdout": out + "holdout/", "scoring": out + "scoring/"},
        # Paths travel as arguments: scripts never hard-code /opt/ml (the sandbox relocates it).
        arguments=["--base-dir", job_requests.PROCESSING_BASE, "--partition-date", plan.day,
                   "--horizon-days", str(plan.model.horizon_days),
                   "--training-origins-days", str(plan.model.training_origins_days)],
        max_runtime_seconds=plan.model.max_runtime_seconds,
        # Processing jobs need no network (SageMaker moves their inputs and outputs), so they run isolated when
        # the environment asks for it; training and serving fetch their script from S3 themselves.
        network_isolation=plan.env.network_isolation,
    )


def training(run: PlanLike, *, job_name: str, features: dict[str, Any]) -> dict[str, Any]:
    plan = _of(run)
    return job_requests.training_job(
        job_name=job_name, **_common(plan),
        instance_type=plan.model.training_instance_type,
        sourcedir_uri=plan.code.sourcedir, entry_point="train.py", region=plan.region,
        channels={"train": features["outputs"]["train"]},
        output_path=plan.paths.models,
        hyperparameters=dict(plan.model.hyperparameters),
        metric_definitions=METRIC_DEFINITIONS,
        max_runtime_seconds=plan.model.max_runtime_seconds,
    )


def evaluation(run: PlanLike, *, job_name: str, features: dict[str, Any], model: dict[str, Any],
               champion: dict[str, Any] | None = None) -> dict[str, Any]:
    """``champion`` is what `find_champion` chose (empty: there is none, the challenger faces the baseline only)."""
    plan = _of(run)
    chosen = _champion(champion) if champion else None
    inputs = {"holdout": features["outputs"]["holdout"], "challenger": model["model_data"]}
    if chosen and chosen.model_data_url:
        inputs["champion"] = chosen.model_data_url
    return job_requests.processing_job(
        job_name=job_name, **_common(plan),
        instance_type=plan.model.processing_instance_type,
        code_uri=plan.code.files, script="evaluate.py",
        inputs=inputs,
        outputs={"evaluation": _job_prefix(plan.paths.evaluation, job_name)},
        arguments=["--base-dir", job_requests.PROCESSING_BASE, "--partition-date", plan.day,
                   "--champion-arn", chosen.model_package_arn if chosen else ""],
        max_runtime_seconds=plan.model.max_runtime_seconds,
        network_isolation=plan.env.network_isolation,
    )


def model_package(run: PlanLike, *, model: dict[str, Any], evaluation: dict[str, Any],
                  decision: dict[str, Any]) -> dict[str, Any]:
    plan = _of(run)
    metrics = decision.get("metrics", {})
    return job_requests.model_package(
        group_name=plan.env.model_package_group,
        description=f"{plan.pipeline} trained for {plan.day} by {plan.run_id}",
        image_uri=plan.image_uri,
        model_data_url=model["model_data"],
        program="inference.py",
        sourcedir_uri=plan.code.sourcedir,
        region=plan.region,
        content_types=[SCORING_CONTENT_TYPE],
        response_types=[PREDICTIONS_ACCEPT],
        metrics_uri=evaluation["outputs"]["evaluation"] + "evaluation.json",
        metadata={
            "partition_date": plan.day,
            "dag_run_id": plan.run_id,
            "run_type": plan.run_type,
            "training_job": model["job_name"],
            **{f"{name}_wape": f"{value:.6f}" for name, value in metrics.items() if value is not None},
        },
        instance_types=[plan.model.transform_instance_type],
    )


def batch_prediction(run: PlanLike, *, job_name: str, features: dict[str, Any],
                     registered: dict[str, Any] | None, decision: dict[str, Any]) -> dict[str, Any]:
    """The version the gate chose: the one just registered, or the champion it kept. The SageMaker
    model takes the job's name, so which model a job used is never in doubt."""
    plan = _of(run)
    if decision.get("use") == "challenger":
        chosen = (registered or {}).get("model_package_arn")
    else:
        chosen = decision.get("champion_arn")
    if not chosen:
        raise ValueError(f"no model package to predict with (the gate chose {decision.get('use')!r})")
    return {
        "Model": job_requests.model_from_package(model_name=job_name, role_arn=plan.env.sagemaker_role_arn,
                                                 model_package_arn=chosen, vpc=_vpc(plan)),
        "Transform": job_requests.transform_job(
            job_name=job_name, model_name=job_name,
            input_uri=features["outputs"]["scoring"], output_uri=_job_prefix(plan.paths.predictions, job_name),
            instance_type=plan.model.transform_instance_type,
            content_type=SCORING_CONTENT_TYPE, accept=PREDICTIONS_ACCEPT,
            max_runtime_seconds=plan.model.max_runtime_seconds,
            kms_key_id=plan.env.kms_key_id,
        ),
    }
