"""What the model-quality view shows, read where the pipeline leaves it (never from Airflow's metadata database):

- realised WAPE by day and horizon over the last 90 days: Athena, ``demand_forecast.forecast_accuracy``
  (``include/sql/model_quality/wape_by_day.sql``);
- the gate's decision per day: each day's ``evaluation.json`` in S3 (the latest evaluation job of the day),
  judged by ``batchml.gate.decide`` with the shipped settings, exactly as the ``gate`` task judged it;
- the current champion: the SageMaker Model Registry (``champion_of``, as ``find_champion`` picks it);
- the latest evaluation plot: that day's ``forecast_vs_actuals.png`` in S3.

A source that cannot be read is a line in ``problems``, shown on the page, not an error page: the other parts
still help.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from batchml.config import INCLUDE_DIR

PIPELINE = "demand_forecast"
DAYS = 90
_EVALUATION_KEY = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/([^/]+-(\d+))/evaluation\.json$")
DECISIONS = {"challenger": "new model", "champion": "champion kept", "none": "nothing published"}


@dataclass
class DayDecision:
    day: date
    decision: str  # a value of DECISIONS
    wape: dict[str, float | None]
    reasons: list[str]
    evaluation_key: str


@dataclass
class QualityView:
    first: date
    last: date
    points: list[tuple[date, int, float]] = field(default_factory=list)
    decisions: dict[date, DayDecision] = field(default_factory=dict)
    champion: dict[str, Any] | None = None
    plot: tuple[date, str, str] | None = None  # (day, bucket, key)
    max_wape: float | None = None
    problems: list[str] = field(default_factory=list)


def gather(session: Any, *, today: date) -> QualityView:
    """The view for the 90 days up to ``today``, through ``session`` (a boto3 Session with the Airflow role)."""
    from batchml.config import PipelineSettings
    from batchml.environment import EnvironmentConfig

    settings = PipelineSettings.load(PIPELINE)
    env = EnvironmentConfig.load(PIPELINE, metadata_db=True)
    view = QualityView(first=today - timedelta(days=DAYS - 1), last=today, max_wape=settings.gate.max_wape)
    for part in (_accuracy, _decisions, _champion):
        try:
            part(session, env, settings, view)
        except Exception as e:  # one unreadable source must not hide the others
            view.problems.append(f"{part.__name__.strip('_')}: {type(e).__name__}: {e}")
    return view


def _accuracy(session, env, settings, view: QualityView) -> None:
    from batchml.sql import bind

    sql, params = bind((INCLUDE_DIR / "sql" / "model_quality" / "wape_by_day.sql").read_text(),
                       {"first_day": view.first.isoformat(), "last_day": view.last.isoformat()})
    athena = session.client("athena", region_name=env.region)
    request: dict[str, Any] = {"QueryString": sql, "ExecutionParameters": params, "WorkGroup": env.athena_workgroup}
    if env.athena_output_location:
        request["ResultConfiguration"] = {"OutputLocation": env.athena_output_location}
    query = athena.start_query_execution(**request)["QueryExecutionId"]
    deadline = time.monotonic() + 60
    while True:
        status = athena.get_query_execution(QueryExecutionId=query)["QueryExecution"]["Status"]
        if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        if time.monotonic() > deadline:
            athena.stop_query_execution(QueryExecutionId=query)
            raise TimeoutError(f"Athena query {query} took more than 60 s")
        time.sleep(min(env.poll_interval_seconds, 1.0))
    if status["State"] != "SUCCEEDED":
        raise RuntimeError(f"Athena query {query} {status['State']}: {status.get('StateChangeReason', '')}")
    rows = [r["Data"] for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=query)
            for r in page["ResultSet"]["Rows"]]
    for cells in rows[1:]:  # the header row first, as Athena pages it
        dt, horizon, wape = (c.get("VarCharValue") for c in cells)
        if wape is not None:
            view.points.append((date.fromisoformat(dt), int(horizon), float(wape)))


def _decisions(session, env, settings, view: QualityView) -> None:
    from batchml.gate import decide
    from batchml.naming import S3Layout

    layout = S3Layout(env.bucket, env.prefix, PIPELINE)
    prefix = layout.area("evaluation").removeprefix(f"s3://{env.bucket}/")
    s3 = session.client("s3", region_name=env.region)
    latest: dict[date, tuple[int, str]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=env.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            m = _EVALUATION_KEY.search(obj["Key"])
            if m:
                day, n = date.fromisoformat(m.group(1)), int(m.group(3))
                if view.first <= day <= view.last and n >= latest.get(day, (0, ""))[0]:
                    latest[day] = (n, obj["Key"])
    gate = settings.gate
    for day, (_, key) in sorted(latest.items()):
        evaluation = json.loads(s3.get_object(Bucket=env.bucket, Key=key)["Body"].read())
        verdict = decide(evaluation, max_wape=gate.max_wape, champion_tolerance=gate.champion_tolerance,
                         min_improvement_over_baseline=gate.min_improvement_over_baseline)
        wape = {name: (evaluation["models"].get(name) or {}).get("wape") for name in ("challenger", "champion",
                                                                                       "baseline")}
        view.decisions[day] = DayDecision(day, DECISIONS[verdict.use], wape, verdict.reasons, key)
    if latest:
        day = max(latest)
        view.plot = (day, env.bucket, latest[day][1].rsplit("/", 1)[0] + "/forecast_vs_actuals.png")


def _champion(session, env, settings, view: QualityView) -> None:
    from batchml.demand_forecast.plan import champion_of

    sm = session.client("sagemaker", region_name=env.region)
    packages = [p for page in sm.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=env.model_package_group, ModelApprovalStatus="Approved") for p in
        page["ModelPackageSummaryList"]]
    champion = champion_of(packages, date.max)
    view.champion = champion.model_dump() if champion else None


def plot_bytes(session: Any, view: QualityView) -> bytes | None:
    if view.plot is None:
        return None
    _, bucket, key = view.plot
    return session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
