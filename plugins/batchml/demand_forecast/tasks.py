"""The demand_forecast steps that run in Airflow itself (the rest are AWS jobs driven by operators).

Imports of pandas, boto3 clients and sagemaker-core happen inside the tasks, never at parse time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import get_current_context
from airflow.sdk.exceptions import AirflowFailException

# airflow.sdk's task, but XComArg arguments resolve when the task runs, so `airflow tasks render` works
from batchml.decorators import task
from batchml.naming import run_type_of

PIPELINE = "demand_forecast"


def _settings():
    from batchml.config import PipelineSettings

    return PipelineSettings.load(PIPELINE)


def _plan(run: dict[str, Any]):
    """The run plan from its XCom value, validated."""
    from batchml.demand_forecast.plan import RunPlan

    return RunPlan.of(run)


@task(multiple_outputs=False)
def prepare_run(params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate the environment, pick the partition and stage the job code."""
    from batchml.config import ConfigError
    from batchml.demand_forecast import plan
    from batchml.environment import EnvironmentConfig

    context = get_current_context()
    settings = _settings()
    dag_run = context["dag_run"]
    params = dict(params or {})
    try:
        plan.check_params(set(context["dag"].params), params, getattr(dag_run, "conf", None), settings)
        env = EnvironmentConfig.load(PIPELINE)
        day = plan.partition_day(context.get("logical_date"), datetime.now(UTC), first_day=settings.start_date,
                                 history_days=plan.history_days(params, settings))
    except (ConfigError, plan.PlanError) as e:
        raise AirflowFailException(str(e)) from None  # retrying cannot fix configuration
    run_type = run_type_of(dag_run)
    image_uri = _image_uri(settings, env)
    code = _stage_code(settings, env)
    # The champion is chosen later, by find_champion, once earlier days in flight have decided theirs.
    run = plan.build(settings=settings, env=env, day=day, run_id=dag_run.run_id, run_type=run_type,
                     params=params, image_uri=image_uri, code=code, champion=None)
    print(f"Partition {run.day} ({run_type}); code {run.code.digest}")
    return run.to_xcom()


def _image_uri(settings, env) -> str:
    # sagemaker-core resolves the regional framework image from bundled metadata, offline. Imported here
    # because it takes seconds to load and must never be loaded while parsing DAGs.
    from sagemaker.core import image_uris

    model = settings.model
    return image_uris.retrieve(framework=model.framework, region=env.region, version=model.framework_version,
                               py_version="py3", instance_type=model.training_instance_type)


def _stage_code(settings, env) -> dict[str, str]:
    """Upload the job scripts once per content digest: a run uses exactly the code it was started with."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from batchml.demand_forecast.plan import code_bundle
    from batchml.naming import S3Layout

    tarball, files, digest = code_bundle()
    prefix = S3Layout(env.bucket, env.prefix, settings.name).code(digest)
    s3 = S3Hook(aws_conn_id=env.aws_conn_id, region_name=env.region)
    bucket, key = S3Hook.parse_s3_url(prefix)
    if not s3.check_for_key(f"{key}sourcedir.tar.gz", bucket):
        for name, body in files.items():
            s3.load_bytes(body, f"{key}src/{name}", bucket, replace=True)
        s3.load_bytes(tarball, f"{key}sourcedir.tar.gz", bucket, replace=True)
    return {"digest": digest, "files": f"{prefix}src/", "sourcedir": f"{prefix}sourcedir.tar.gz"}


# How far back find_champion looks for earlier days still deciding their model, when no champion bounds it.
CHAMPION_LOOKBACK_DAYS = 60


@task.sensor(timeout=12 * 3600, mode="poke")  # poke_interval: the settings' model.champion_poke_seconds
def find_champion(run: dict[str, Any]):
    """The champion for D: the latest model version approved for a day before D, looked up when the
    evaluation is about to score it (not when the run started), and only once every run of an earlier day
    (after the current champion's) that is under way has decided its model. So D's champion does not
    depend on which runs happen to be in flight: in a backfill, D waits for D-1's gate and registration.

    A sensor, so the wait shows in the grid as such; it times out after 12 hours and pages."""
    from datetime import time, timedelta

    from airflow.sdk import PokeReturnValue

    from batchml.demand_forecast.plan import DECISION_TASKS, champion_of, undecided_runs

    ti = get_current_context()["ti"]
    plan = _plan(run)
    day = plan.partition_date
    conn = _sagemaker(plan)
    champion = champion_of(_approved_packages(conn, plan.env.model_package_group), day)
    since = champion.partition_date if champion else day - timedelta(days=CHAMPION_LOOKBACK_DAYS)
    dates = [datetime.combine(since + timedelta(days=k), time(), UTC) for k in range(1, (day - since).days)]
    found = ti.get_task_states(dag_id=ti.dag_id, task_ids=list(DECISION_TASKS), logical_dates=dates) if dates else {}
    # The SDK hands back str enums whose str() is "DagRunState.RUNNING" and whose hash is the member name's:
    # compare plain values.
    states = {run_id: {task: _value(state) for task, state in tasks.items()} for run_id, tasks in found.items()}
    run_states = {run_id: _value(ti.get_dagrun_state(dag_id=ti.dag_id, run_id=run_id)) for run_id in states
                  if run_id != ti.run_id}
    waiting = undecided_runs(states, run_states, ti.run_id)
    if waiting:
        print(f"Waiting for earlier days to decide their model before choosing {day}'s champion: {', '.join(waiting)}")
        return PokeReturnValue(is_done=False)
    if queued := sorted(r for r, state in run_states.items() if state == "queued"):
        print(f"Not waiting for earlier runs that have not started ({', '.join(queued)}; a backfill run backwards?): "
              f"{day} is compared against the champion approved so far")
    if champion:
        described = conn.describe_model_package(ModelPackageName=champion.model_package_arn)
        champion = champion.model_copy(update={
            "model_data_url": described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]})
    print(f"Champion for {day}: " + (f"{champion.model_package_arn} (trained for {champion.partition_date})"
                                     if champion else "none approved before it"))
    # {}: none (None would push no XCom)
    return PokeReturnValue(is_done=True, xcom_value=champion.model_dump(mode="json") if champion else {})


def _value(state: Any) -> str | None:
    return None if state is None else str(getattr(state, "value", state))


def _sagemaker(plan):
    from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

    return SageMakerHook(**plan.aws()).conn


def _approved_packages(conn, group: str) -> list[dict[str, Any]]:
    packages = []
    for page in conn.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=group, ModelApprovalStatus="Approved"):
        packages.extend(page["ModelPackageSummaryList"])
    return packages


def _read_profile(plan, uri: str) -> dict[str, Any]:
    """The one row the profile query unloaded (a few hundred bytes: the extracts stay in S3)."""
    from batchml.operators.athena import read_unloaded

    rows = read_unloaded(uri, **plan.aws())
    if len(rows) != 1:
        raise AirflowFailException(f"the data profile under {uri} has {len(rows)} rows, expected 1")
    return rows[0]


@task(multiple_outputs=False)
def check_data_quality(run: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any]:
    """Judge the profile Athena computed (batchml.quality) and fail the run at once, naming every failed check
    with what was seen, the bound and why: a retry cannot fix data."""
    from batchml import quality

    plan = _plan(run)
    checks = quality.judge(_read_profile(plan, profile["output_prefix"]), quality=plan.quality,
                           windows=plan.windows, horizon_days=plan.model.horizon_days)
    for c in checks:
        print(f"{'PASS' if c.passed else 'FAIL'} {c.describe()}")
    failed = quality.failures(checks)
    if failed:
        raise AirflowFailException(quality.failure_message(failed, len(checks), plan.day))
    return {"checks": quality.report(checks)}


@task.branch
def gate(run: dict[str, Any], evaluation: dict[str, Any]) -> str:
    """Ship the challenger, keep the champion, or stop: see batchml.gate for the rules."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from batchml.gate import decide, summary

    plan = _plan(run)
    uri = evaluation["outputs"]["evaluation"] + "evaluation.json"
    bucket, key = S3Hook.parse_s3_url(uri)
    report = json.loads(S3Hook(**plan.aws()).read_key(key, bucket))
    _check_evaluation(report, plan.day)
    decision = decide(report, **plan.gate.model_dump())
    models = report["models"]
    result = {
        **decision.as_dict(),
        "metrics": {name: (m or {}).get("wape") for name, m in models.items()},
        "champion_arn": (models.get("champion") or {}).get("model_package_arn"),  # the one find_champion chose
        "evaluation_uri": uri,
    }
    get_current_context()["ti"].xcom_push(key="decision", value=result)
    for c in decision.checks:
        print(f"{'PASS' if c['passed'] else 'FAIL'} {c['name']}: {c['detail']}")
    if decision.use == "challenger":
        return "register_model"
    if decision.use == "champion":
        return "keep_champion"
    if result["champion_arn"]:
        headline = (f"no model qualifies for {plan.day}: the new model is rejected and the champion "
                    "fails the same bar; nothing is published. When both fail on one holdout, look at D's data "
                    "first")
    else:
        headline = (f"the new model is rejected for {plan.day} and there is no approved champion to "
                    "fall back on; nothing is published")
    raise AirflowFailException(f"{headline}. {summary(report)}. Failed: " + "; ".join(decision.reasons))


def _check_evaluation(report: dict[str, Any], day: str) -> None:
    """An evaluation that cannot be trusted must not ship anything."""
    import math

    problems = []
    for name in ("challenger", "baseline"):
        wape = (report.get("models", {}).get(name) or {}).get("wape")
        if not isinstance(wape, (int, float)) or math.isnan(wape) or wape < 0:
            problems.append(f"{name} WAPE is {wape!r}")
    if report.get("partition_date") != day:
        problems.append(f"evaluation is for {report.get('partition_date')}, not {day}")
    if (report.get("holdout") or {}).get("rows", 0) <= 0:
        problems.append("the holdout window is empty")
    if problems:
        raise AirflowFailException("evaluation.json is not usable: " + "; ".join(problems))


@task(multiple_outputs=False)
def keep_champion(run: dict[str, Any], decision: dict[str, Any]) -> str:
    """The challenger was rejected but a champion exists: predict with it, and tell on-call without paging."""
    from batchml.alerts import send_warning

    ti = get_current_context()["ti"]
    plan = _plan(run)
    arn = decision["champion_arn"]
    send_warning(
        PIPELINE, _settings().alerts.slack_conn_id,
        f"{PIPELINE} {plan.day}: new model rejected, champion kept",
        {"Partition": plan.day, "Run type": plan.run_type, "Champion": arn,
         "Failed checks": "; ".join(decision["reasons"]), "Evaluation": decision["evaluation_uri"]},
        log_url=getattr(ti, "log_url", None),
    )
    print(f"Challenger rejected ({'; '.join(decision['reasons'])}); predicting with champion {arn}")
    return arn
