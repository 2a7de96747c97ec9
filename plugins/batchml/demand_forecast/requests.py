"""The demand_forecast jobs, as requests built from the run plan (see plan.py) and upstream results.

Each function is pure and is what a job operator calls with the job name it picked, so a test can
build every request of a run from a sample plan and check it against botocore's model.
"""

from __future__ import annotations

from typing import Any

from batchml import job_requests

METRIC_DEFINITIONS = [
    {"Name": name, "Regex": rf"{name}=([0-9.eE+-]+);"}
    for name in ("train_wape", "train_mae", "recent_wape", "fit_seconds", "training_rows")
]
SCORING_CONTENT_TYPE, PREDICTIONS_ACCEPT = "application/jsonlines", "text/csv"


def profile_parameters(settings) -> dict[str, Any]:
    """ExecutionParameters of ``profile_extracts.sql``: the extracts' windows (templates reading the run plan)
    and the plausibility bounds it counts against (numbers, from the settings)."""
    from batchml.dags import plan

    bounds = settings["quality"]["plausibility"]
    return {
        "history_start": plan("windows", "history_start"), "partition_date": "{{ ds }}",
        "active_start": plan("windows", "active_start"), "first_day": plan("windows", "first_forecast_day"),
        "last_day": plan("windows", "last_forecast_day"), "baseline_start": plan("windows", "baseline_start"),
        "min_units": int(bounds["units_sold"]["min"]),
        "min_price": float(bounds["unit_price"]["min"]), "max_price": float(bounds["unit_price"]["max"]),
        "series_max_ratio": float(bounds["series_units"]["max_ratio"]),
        "series_floor_units": float(bounds["series_units"]["floor_units"]),
    }


def _common(run: dict[str, Any]) -> dict[str, Any]:
    """What every job takes from the environment Variable: the role, the image, the KMS key, the VPC."""
    env = run["env"]
    return {"role_arn": env["sagemaker_role_arn"], "image_uri": run["image_uri"],
            "kms_key_id": env.get("kms_key_id"), "vpc": _vpc(run)}


def _vpc(run: dict[str, Any]) -> dict[str, list[str]] | None:
    return job_requests.vpc_config(run["env"].get("vpc_subnet_ids"), run["env"].get("vpc_security_group_ids"))


def _isolated(run: dict[str, Any]) -> bool:
    """Processing jobs need no network (SageMaker moves their inputs and outputs), so they run isolated
    when the environment asks for it; training and serving fetch their script from S3 themselves."""
    return bool(run["env"].get("network_isolation"))


def _job_prefix(run: dict[str, Any], area: str, job_name: str) -> str:
    return f"{run['paths'][area]}{job_name}/"


def preprocessing(run: dict[str, Any], *, job_name: str) -> dict[str, Any]:
    out = _job_prefix(run, "features", job_name)
    return job_requests.processing_job(
        job_name=job_name, **_common(run),
        instance_type=run["model"]["processing_instance_type"],
        code_uri=run["code"]["files"], script="preprocess.py",
        inputs={"training": run["paths"]["extract_training"], "scoring": run["paths"]["extract_scoring"]},
        outputs={"train": out + "train/", "holdout": out + "holdout/", "scoring": out + "scoring/"},
        # Paths travel as arguments: scripts never hard-code /opt/ml (the sandbox relocates it).
        arguments=["--base-dir", job_requests.PROCESSING_BASE, "--partition-date", run["partition_date"],
                   "--horizon-days", str(run["model"]["horizon_days"]),
                   "--training-origins-days", str(run["model"]["training_origins_days"])],
        max_runtime_seconds=run["model"]["max_runtime_seconds"],
        network_isolation=_isolated(run),
    )


def training(run: dict[str, Any], *, job_name: str, features: dict[str, Any]) -> dict[str, Any]:
    return job_requests.training_job(
        job_name=job_name, **_common(run),
        instance_type=run["model"]["training_instance_type"],
        sourcedir_uri=run["code"]["sourcedir"], entry_point="train.py", region=run["region"],
        channels={"train": features["outputs"]["train"]},
        output_path=run["paths"]["models"],
        hyperparameters=run["model"]["hyperparameters"],
        metric_definitions=METRIC_DEFINITIONS,
        max_runtime_seconds=run["model"]["max_runtime_seconds"],
    )


def evaluation(run: dict[str, Any], *, job_name: str, features: dict[str, Any], model: dict[str, Any],
               champion: dict[str, Any] | None = None) -> dict[str, Any]:
    """``champion`` is what `find_champion` chose (None: there is none, the challenger faces the baseline only)."""
    champion = champion or {}
    inputs = {"holdout": features["outputs"]["holdout"], "challenger": model["model_data"]}
    if champion.get("model_data_url"):
        inputs["champion"] = champion["model_data_url"]
    return job_requests.processing_job(
        job_name=job_name, **_common(run),
        instance_type=run["model"]["processing_instance_type"],
        code_uri=run["code"]["files"], script="evaluate.py",
        inputs=inputs,
        outputs={"evaluation": _job_prefix(run, "evaluation", job_name)},
        arguments=["--base-dir", job_requests.PROCESSING_BASE, "--partition-date", run["partition_date"],
                   "--champion-arn", champion.get("model_package_arn", "")],
        max_runtime_seconds=run["model"]["max_runtime_seconds"],
        network_isolation=_isolated(run),
    )


def model_package(run: dict[str, Any], *, model: dict[str, Any], evaluation: dict[str, Any],
                  decision: dict[str, Any]) -> dict[str, Any]:
    metrics = decision.get("metrics", {})
    return job_requests.model_package(
        group_name=run["env"]["model_package_group"],
        description=f"{run['pipeline']} trained for {run['partition_date']} by {run['run_id']}",
        image_uri=run["image_uri"],
        model_data_url=model["model_data"],
        program="inference.py",
        sourcedir_uri=run["code"]["sourcedir"],
        region=run["region"],
        content_types=[SCORING_CONTENT_TYPE],
        response_types=[PREDICTIONS_ACCEPT],
        metrics_uri=evaluation["outputs"]["evaluation"] + "evaluation.json",
        metadata={
            "partition_date": run["partition_date"],
            "dag_run_id": run["run_id"],
            "run_type": run["run_type"],
            "training_job": model["job_name"],
            **{f"{name}_wape": f"{value:.6f}" for name, value in metrics.items() if value is not None},
        },
        instance_types=[run["model"]["transform_instance_type"]],
    )


def batch_prediction(run: dict[str, Any], *, job_name: str, features: dict[str, Any],
                     registered: dict[str, Any] | None, decision: dict[str, Any]) -> dict[str, Any]:
    """The version the gate chose: the one just registered, or the champion it kept. The SageMaker
    model takes the job's name, so which model a job used is never in doubt."""
    if decision.get("use") == "challenger":
        chosen = (registered or {}).get("model_package_arn")
    else:
        chosen = decision.get("champion_arn")
    if not chosen:
        raise ValueError(f"no model package to predict with (the gate chose {decision.get('use')!r})")
    return {
        "Model": job_requests.model_from_package(model_name=job_name, role_arn=run["env"]["sagemaker_role_arn"],
                                                 model_package_arn=chosen, vpc=_vpc(run)),
        "Transform": job_requests.transform_job(
            job_name=job_name, model_name=job_name,
            input_uri=features["outputs"]["scoring"], output_uri=_job_prefix(run, "predictions", job_name),
            instance_type=run["model"]["transform_instance_type"],
            content_type=SCORING_CONTENT_TYPE, accept=PREDICTIONS_ACCEPT,
            max_runtime_seconds=run["model"]["max_runtime_seconds"],
            kms_key_id=run["env"].get("kms_key_id"),
        ),
    }
