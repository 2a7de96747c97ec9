"""SageMaker job operators that survive retries, kills and timeouts without duplicating or orphaning jobs.

Why not the Amazon provider's ``SageMakerProcessingOperator`` / ``SageMakerTrainingOperator`` /
``SageMakerTransformOperator``:

- A retry never finds the job its earlier try launched. With ``action_if_job_exists="timestamp"`` it
  starts a second job (and pays twice); with ``"fail"`` the retry fails although the job may have
  finished fine.
- A killed or timed-out task leaves its job running (no ``on_kill``; ``max_ingestion_time`` does not
  stop the job).
- In sync mode a ``Stopped`` processing or transform job counts as success.

A job that failed in a way no retry can fix fails the task at once (no retry; the page carries the reason):
its script says so by writing a line starting with ``NonRetryableError:`` to ``/opt/ml/output/failure``
(training: SageMaker returns it as ``FailureReason``) or ``/opt/ml/output/message`` (processing: returned as
``ExitMessage``). Any other failure keeps the task's retries. (The provider retries every failure alike.)

These operators launch at most one job per attempt chain of a task: a retry first looks for the job
an earlier try of the same task, run and clear-generation launched (found by its ``airflow:*`` tags).
It waits for that job if it still runs, takes its result if it completed, and launches the next job
only if it failed or was stopped. Job names are ``<pipeline>-<step>-<yyyymmdd>-<n>``. Waits are
deferrable (the provider's ``SageMakerTrigger``), and a kill or a deferral timeout stops the job.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.configuration import conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from batchml import naming
from batchml.attempts import TAG_RUN, TAG_TASK, TAG_TRY
from batchml.operators.jobs import IdempotentJob
from batchml.operators.links import SageMakerJobLink, SageMakerJobLogsLink
from batchml.operators.planned import FromPlan
from batchml.operators.waiting import Waiter

if TYPE_CHECKING:
    from airflow.sdk import Context

    from batchml.attempts import Attempt

RUNNING, DONE, FAILED = {"InProgress", "Stopping"}, {"Completed"}, {"Failed", "Stopped"}
# Task instance states in which a task may still wait on the job it launched.
ALIVE = {"running", "deferred", "queued", "scheduled", "up_for_retry", "up_for_reschedule", "restarting"}
# A job's request, as a digest tag: an orphan is adopted only if it is the very job this try would launch.
REQUEST_TAG = "batchml:request_sha256"


def request_digest(request: dict[str, Any]) -> str:
    """SHA-256 of the request without its tags (which name the try that launched it)."""
    import hashlib
    import json

    body = {k: v for k, v in request.items() if k != "Tags"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


# What a job script writes to say that retrying cannot help (include/scripts/*/contract.py documents it).
NON_RETRYABLE = "NonRetryableError:"


class SageMakerJobFailed(AirflowException):
    """A SageMaker job ended Failed or Stopped. ``aws_reason`` is SageMaker's FailureReason."""

    def __init__(self, job_type: str, job_name: str, status: str, reason: str | None):
        self.job_type, self.job_name, self.status = job_type, job_name, status
        self.aws_reason = reason or f"the job ended {status} without a FailureReason"
        super().__init__(f"SageMaker {job_type} job {job_name} {status}: {self.aws_reason}")


class SageMakerJobFailedForGood(SageMakerJobFailed, AirflowFailException):
    """A job whose script reported an error no retry can fix: the task fails without retrying."""


def job_failure(job_type: str, describe: dict[str, Any], name_key: str, status_key: str) -> SageMakerJobFailed:
    """The exception for a job that ended Failed or Stopped: its FailureReason, with the container's
    ExitMessage (processing jobs) after it; not to be retried if either carries the NonRetryableError marker."""
    reason, exit_message = describe.get("FailureReason"), describe.get("ExitMessage")
    if exit_message and exit_message not in (reason or ""):
        reason = f"{reason or 'no FailureReason'}; ExitMessage: {exit_message}"
    for_good = describe[status_key] == "Failed" and NON_RETRYABLE in (reason or "")
    cls = SageMakerJobFailedForGood if for_good else SageMakerJobFailed
    return cls(job_type, describe[name_key], describe[status_key], reason)


class SageMakerJobOperator(IdempotentJob, AwsBaseOperator[SageMakerHook]):
    """Base for the three job types; subclasses say which API calls and describe keys they use.

    :param step: the pipeline step; with ``plan``, jobs are named ``<pipeline>-<step>-<yyyymmdd>-<n>``
        (``batchml.naming.job_name_prefix``).
    :param job_name_prefix: the prefix itself, without a plan; jobs are named ``<prefix>-<n>``. (templated)
    :param plan: the run plan (XComArg): connection, region, polling interval, and the first argument of
        ``request`` (see ``batchml.operators.planned``).
    :param request: pure function ``([plan,] job_name=..., **request_kwargs) -> dict`` returning the boto3
        create request (see ``batchml.job_requests``).
    :param request_kwargs: keyword arguments for ``request``; XComArgs in it resolve when the task runs.
    :param action_if_job_exists: ``"attach"`` (default) waits for, or reuses, the job an earlier try of
        this attempt chain launched; ``"fail"`` fails the retry instead.
    :param poll_interval: seconds between status checks. (templated)
    :param max_wait: give up waiting (and stop the job) after this long.
    :param deferrable: wait in the triggerer, freeing the worker slot.
    """

    aws_hook_class = SageMakerHook
    template_fields: Sequence[str] = aws_template_fields("job_name_prefix", "poll_interval")
    operator_extra_links = (SageMakerJobLink(), SageMakerJobLogsLink())
    ui_color = "#FFD9A6"

    job_type: ClassVar[str]
    name_key: ClassVar[str]
    status_key: ClassVar[str]

    def __init__(
        self,
        *,
        request: Callable[..., dict[str, Any]],
        request_kwargs: dict[str, Any] | None = None,
        plan: Any = None,
        step: str | None = None,
        job_name_prefix: str | None = None,
        action_if_job_exists: Literal["attach", "fail"] = "attach",
        poll_interval: float | str = 30,
        max_wait: timedelta = timedelta(hours=6),
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if action_if_job_exists not in ("attach", "fail"):
            raise ValueError(f"action_if_job_exists must be 'attach' or 'fail', got {action_if_job_exists!r}")
        if (job_name_prefix is None) == (step is None and plan is None):
            raise ValueError("give either job_name_prefix, or plan and step")
        self.job_name_prefix = job_name_prefix
        self.step = step
        self.action_if_job_exists = action_if_job_exists
        self.poll_interval = poll_interval
        self.max_wait = max_wait
        self.deferrable = deferrable
        self.kind = f"{self.job_type} job"
        self.init_plan(plan, request, request_kwargs)

    # -- per job type: the small interface each job type implements ---------------------------------------
    # Describing goes through the hook's named methods. Creating, stopping and listing go to the client: the
    # hook's create_*_job methods also check that every S3 input exists (calls the Airflow role is not granted,
    # and the request builders already name outputs of completed upstream jobs), it has no stop_*_job, and its
    # list_*_jobs drop the sort order a retry needs to find the newest job first.
    waiter_name: ClassVar[str]  # the provider's waiter (waiters/sagemaker.json), shared with SageMakerTrigger

    def _describe(self, name: str) -> dict[str, Any]:
        raise NotImplementedError

    def _create(self, request: dict[str, Any]) -> None:
        raise NotImplementedError

    def _stop(self, name: str) -> None:
        raise NotImplementedError

    def _summaries(self, prefix: str) -> Iterable[dict[str, Any]]:
        raise NotImplementedError

    def _list(self, prefix: str) -> list[dict[str, Any]]:
        """Jobs named ``<prefix>-<n>``, newest first."""
        return [s for s in self._summaries(prefix) if naming.job_sequence(prefix, s[self.name_key]) is not None]

    def _pages(self, operation: str, key: str, prefix: str) -> Iterable[dict[str, Any]]:
        for page in self.hook.conn.get_paginator(operation).paginate(
                NameContains=prefix, SortBy="CreationTime", SortOrder="Descending"):
            yield from page[key]

    def result(self, describe: dict[str, Any]) -> dict[str, Any]:
        """What downstream tasks need from a completed job (pushed to XCom)."""
        self._completed = describe  # for the lineage, which the listener asks for after the task succeeds
        return {"job_name": describe[self.name_key], "status": describe[self.status_key]}

    def get_openlineage_facets_on_complete(self, task_instance):
        """The job's S3 inputs and outputs, as the provider's SageMaker operators report them."""
        from airflow.providers.openlineage.extractors import OperatorLineage

        from batchml.operators import lineage

        described = getattr(self, "_completed", None)
        if described is None:
            return OperatorLineage()
        inputs, outputs = lineage.job_uris(self.job_type, described)
        return OperatorLineage(inputs=[lineage.s3_dataset(u) for u in inputs],
                               outputs=[lineage.s3_dataset(u) for u in outputs])

    # -- the idempotent job interface (batchml.operators.jobs) -------------------------------------------
    def prepare(self, context: Context) -> None:
        if self.resolve_plan(context) is not None and self.job_name_prefix is None:
            self.job_name_prefix = naming.job_name_prefix(self.header.pipeline, self.step or self.task_id,
                                                          self.header.partition_date)

    def earlier_work(self, attempt: Attempt, context: Context) -> dict[str, Any] | None:
        """The newest job this attempt chain launched (found by its ``airflow:*`` tags), described; else an
        orphan of this partition and step, adopted.

        An orphan is a job still running that another run of the partition, or an earlier clear of this task,
        launched, and whose task can no longer own it: its task instance is not running, queued, deferred or
        waiting to retry (a run marked failed, a task cleared or killed). It is adopted (waited for, its result
        used) when its request is the one this try would send: the ``batchml:request_sha256`` tag it was
        launched with equals the digest of this try's request for the same job name. Otherwise it is stopped,
        and this try launches its own. A job whose task is still alive is left to it."""
        launched, orphans = self._scan(attempt)
        if launched is not None:
            return launched
        for name, tags in orphans:
            owner = (tags.get(TAG_RUN), tags.get(TAG_TASK))
            if self._owner_alive(context, *owner):
                self.log.warning("%s job %s is running for %s (%s), which still owns it; leaving it.",
                                 self.job_type, name, owner[0], owner[1])
                continue
            described = self._describe(name)
            if described[self.status_key] != "InProgress":
                continue
            if tags.get(REQUEST_TAG) == request_digest(self.build(job_name=name)):
                self.log.info("Adopting %s job %s, left running by %s (try %s): its request is this try's.",
                              self.job_type, name, owner[0], tags.get(TAG_TRY))
                return described
            self.log.warning("Stopping %s job %s, left running by %s (try %s): its request differs from this "
                             "try's.", self.job_type, name, owner[0], tags.get(TAG_TRY))
            self._stop_if_running(name)
        return None

    def launched_work(self, attempt: Attempt, context: Context) -> dict[str, Any] | None:
        return self._scan(attempt)[0]

    def _scan(self, attempt: Attempt) -> tuple[dict[str, Any] | None, list[tuple[str, dict[str, str]]]]:
        """(the newest job this attempt chain launched, described, or None; the running jobs of the prefix
        listed before it, with their tags)."""
        orphans = []
        for summary in self._list(self.job_name_prefix):
            arn = summary[f"{self.job_type.capitalize()}JobArn"]
            tags = {t["Key"]: t["Value"] for t in self.hook.conn.list_tags(ResourceArn=arn).get("Tags", [])}
            if attempt.launched(tags):
                return self._describe(summary[self.name_key]), orphans
            if summary.get(self.status_key) in RUNNING:
                orphans.append((summary[self.name_key], tags))
        return None, orphans

    def _owner_alive(self, context: Context, run_id: str | None, task_id: str | None) -> bool:
        """Whether the task instance that launched a job may still be waiting on it (Airflow's view)."""
        ti = context["ti"]
        if run_id is None or task_id is None or (run_id, task_id) == (ti.run_id, ti.task_id):
            return False  # untagged, or an earlier clear of this very task instance: nobody else owns it
        try:
            states = ti.get_task_states(dag_id=ti.dag_id, task_ids=[task_id], run_ids=[run_id])
        except Exception:  # no way to ask (e.g. a hand-built context): assume the owner is alive, touch nothing
            self.log.exception("Could not read the state of %s in %s", task_id, run_id)
            return True
        state = (states.get(run_id) or {}).get(task_id)
        return state in ALIVE

    def work_id(self, described: dict[str, Any]) -> str:
        return described[self.name_key]

    def state(self, described: dict[str, Any]):
        status = described[self.status_key]
        return "done" if status in DONE else "stopping" if status == "Stopping" else (
            "running" if status in RUNNING else "ended")

    def wait_stopped(self, work_id: str) -> dict[str, Any]:
        return self._wait_until_stopped(work_id)

    def stop(self, work_id: str) -> None:
        self._stop_if_running(work_id)

    def launch(self, attempt: Attempt, context: Context) -> str:
        return self._launch(attempt)

    def _wait_until_stopped(self, name: str, timeout: float = 600) -> dict[str, Any]:
        """A job an earlier try stopped, once it has (the waiter ends on Stopped as on any terminal state)."""
        poll = min(float(self.poll_interval), 10)
        self.wait_until_done(f"{self.job_type} job {name}", self._waiter(name), poll, max(1, math.ceil(timeout / poll)))
        return self._describe(name)

    def _waiter(self, name: str) -> Waiter:
        return Waiter(self.waiter_name, {self.name_key: name}, [self.status_key])

    def _launch(self, attempt: Attempt) -> str:
        from botocore.exceptions import ClientError

        for _ in range(5):
            taken = [naming.job_sequence(self.job_name_prefix, s[self.name_key]) for s in self._list(self.job_name_prefix)]
            name = naming.job_name(self.job_name_prefix, max(taken, default=0) + 1)
            request = self.build(job_name=name)
            request["Tags"] = [*request.get("Tags", []), *attempt.tags(),
                               {"Key": REQUEST_TAG, "Value": request_digest(request)}]
            try:
                self._create(request)
            except ClientError as e:
                # Another run took this number between our List and Create: take the next one.
                if e.response["Error"]["Code"] in ("ResourceInUse", "ValidationException") and "unique" in str(e):
                    continue
                raise
            self._work_id = name  # from here on, a kill stops it
            self.log.info("Launched %s job %s (try %s).", self.job_type, name, attempt.try_number)
            return name
        raise AirflowException(f"could not find a free job name after {self.job_name_prefix}-*")

    def wait(self, name: str) -> dict[str, Any]:
        from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger

        return self.wait_for(
            what=f"{self.job_type} job {name}",
            check=lambda: self._describe(name),
            running=lambda describe: describe[self.status_key] in RUNNING,
            finish=self.finish,
            stop=lambda: self._stop_if_running(name),
            waiter=self._waiter(name),
            trigger=lambda delay, attempts: SageMakerTrigger(
                job_name=name, job_type=self.job_type, waiter_delay=delay, waiter_max_attempts=attempts,
                aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify,
                botocore_config=self.botocore_config),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        event = event or {}
        name = event.get("job_name") or self._work_id
        if name is None:
            raise AirflowException(f"trigger event without a job name: {event}")
        self._work_id = name
        if event.get("status") == "timeout":
            self._stop_if_running(name)
            raise AirflowException(f"{self.job_type} job {name} still running after {self.max_wait}; stopped it")
        return self.finish(self._describe(name))

    def finish(self, describe: dict[str, Any]) -> dict[str, Any]:
        name, status = describe[self.name_key], describe[self.status_key]
        self._log_tail(name)
        if status in DONE:
            self.log.info("%s job %s completed.", self.job_type.capitalize(), name)
            return self.result(describe)
        if status in RUNNING:  # the trigger gave up early (e.g. persistent throttling): let a retry attach
            raise AirflowException(f"lost track of {self.job_type} job {name} while it was {status}")
        failure = self.failure(describe)
        if isinstance(failure, SageMakerJobFailedForGood):
            self.log.error("%s job %s reported an error no retry can fix; failing without retrying.",
                           self.job_type.capitalize(), name)
        raise failure

    def failure(self, described: dict[str, Any]) -> SageMakerJobFailed:
        return job_failure(self.job_type, described, self.name_key, self.status_key)

    # -- stopping --------------------------------------------------------------------------------------
    def _stop_if_running(self, name: str) -> None:
        try:
            if self._describe(name)[self.status_key] == "InProgress":
                self.log.warning("Stopping %s job %s.", self.job_type, name)
                self._stop(name)
        except Exception:  # stopping is best effort: report it, never mask the original failure
            self.log.exception("Could not stop %s job %s", self.job_type, name)

    def _log_tail(self, name: str, lines: int = 40) -> None:
        """Print the end of the job's CloudWatch log into the task log: on-call reads one place."""
        try:
            logs = self.hook.logs_hook.conn
            group = f"/aws/sagemaker/{self.job_type.capitalize()}Jobs"
            streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{name}/",
                                                orderBy="LogStreamName")["logStreams"]
            for stream in streams[:3]:
                events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"],
                                             limit=lines, startFromHead=False)["events"]
                self.log.info("Last %d lines of %s:%s\n%s", len(events), group, stream["logStreamName"],
                              "\n".join(e["message"] for e in events))
        except Exception as e:  # logs are a convenience; their absence must not fail the task
            self.log.info("No CloudWatch logs for %s: %s", name, e)


class SageMakerProcessingJobOperator(SageMakerJobOperator):
    """Run a SageMaker Processing job (see SageMakerJobOperator for retry, kill and naming behaviour).

    Returns ``{"job_name", "status", "outputs": {output name: S3 URI}}``.
    """

    job_type = "processing"
    name_key = "ProcessingJobName"
    status_key = "ProcessingJobStatus"
    waiter_name = "ProcessingJobComplete"

    def _describe(self, name: str) -> dict[str, Any]:
        return self.hook.describe_processing_job(name)

    def _create(self, request: dict[str, Any]) -> None:
        self.hook.conn.create_processing_job(**request)

    def _stop(self, name: str) -> None:
        self.hook.conn.stop_processing_job(ProcessingJobName=name)

    def _summaries(self, prefix: str) -> Iterable[dict[str, Any]]:
        return self._pages("list_processing_jobs", "ProcessingJobSummaries", prefix)

    def result(self, describe: dict[str, Any]) -> dict[str, Any]:
        outputs = describe.get("ProcessingOutputConfig", {}).get("Outputs", [])
        return {**super().result(describe), "outputs": {o["OutputName"]: o["S3Output"]["S3Uri"] for o in outputs}}


class SageMakerTrainingJobOperator(SageMakerJobOperator):
    """Run a SageMaker Training job (see SageMakerJobOperator for retry, kill and naming behaviour).

    Returns ``{"job_name", "status", "model_data", "metrics": {name: final value}, "billable_seconds"}``.
    """

    job_type = "training"
    name_key = "TrainingJobName"
    status_key = "TrainingJobStatus"
    waiter_name = "TrainingJobComplete"

    def _describe(self, name: str) -> dict[str, Any]:
        return self.hook.describe_training_job(name)

    def _create(self, request: dict[str, Any]) -> None:
        self.hook.conn.create_training_job(**request)

    def _stop(self, name: str) -> None:
        self.hook.conn.stop_training_job(TrainingJobName=name)

    def _summaries(self, prefix: str) -> Iterable[dict[str, Any]]:
        return self._pages("list_training_jobs", "TrainingJobSummaries", prefix)

    def result(self, describe: dict[str, Any]) -> dict[str, Any]:
        return {
            **super().result(describe),
            "model_data": describe["ModelArtifacts"]["S3ModelArtifacts"],
            "metrics": {m["MetricName"]: m["Value"] for m in describe.get("FinalMetricDataList", [])},
            "billable_seconds": describe.get("BillableTimeInSeconds"),
        }


class SageMakerTransformJobOperator(SageMakerJobOperator):
    """Run a SageMaker Batch Transform job, creating its model first.

    ``request`` returns ``{"Model": <CreateModel request>, "Transform": <CreateTransformJob request>}``;
    the model takes the job's name, so the model a job used is never in doubt. A model left behind by an
    earlier try is reused if it serves the same containers, otherwise the launch fails loudly.
    Returns ``{"job_name", "status", "output_path", "model_name"}``.
    """

    job_type = "transform"
    name_key = "TransformJobName"
    status_key = "TransformJobStatus"
    waiter_name = "TransformJobComplete"

    def _describe(self, name: str) -> dict[str, Any]:
        return self.hook.describe_transform_job(name)

    def _stop(self, name: str) -> None:
        self.hook.conn.stop_transform_job(TransformJobName=name)

    def _summaries(self, prefix: str) -> Iterable[dict[str, Any]]:
        return self._pages("list_transform_jobs", "TransformJobSummaries", prefix)

    def _create(self, request: dict[str, Any]) -> None:
        from botocore.exceptions import ClientError

        model, transform = request["Model"], request["Transform"]
        transform["Tags"] = request.get("Tags", [])
        try:
            self.hook.conn.create_model(**model, Tags=transform["Tags"])
        except ClientError as e:
            if "already exist" not in str(e).lower():
                raise
            existing = self.hook.conn.describe_model(ModelName=model["ModelName"])
            if _serves(existing) != _serves(model):
                raise AirflowException(f"model {model['ModelName']} already exists and serves "
                                       f"{_serves(existing)}, not {_serves(model)}") from e
            self.log.info("Reusing model %s left by an earlier try.", model["ModelName"])
        self.hook.conn.create_transform_job(**transform)

    def result(self, describe: dict[str, Any]) -> dict[str, Any]:
        return {**super().result(describe), "output_path": describe["TransformOutput"]["S3OutputPath"],
                "model_name": describe["ModelName"]}


def _serves(model: dict[str, Any]) -> list[tuple[str | None, str | None, str | None]]:
    """What a model runs, comparable between a CreateModel request and a DescribeModel answer."""
    containers = model.get("Containers") or [model.get("PrimaryContainer") or {}]
    return [(c.get("ModelPackageName"), c.get("Image"), c.get("ModelDataUrl")) for c in containers]


class SageMakerRegisterModelPackageOperator(FromPlan, AwsBaseOperator[SageMakerHook]):
    """Register a model version in a model package group, exactly one per partition.

    Why not the provider's ``SageMakerRegisterModelVersionOperator``: every retry registers one more
    version, it hardcodes ``text/csv`` content types, and nothing ties a version to the day it was
    trained for, so a rerun of a day adds a second version for it.

    Each version's description starts with ``partition=<key>``. If a version for the partition already
    serves the same model artifact (an earlier try registered it), it is returned as is. If one serves a
    different artifact (the day was rerun), ``if_exists`` decides: ``"replace"`` (default) registers the
    new version and then deletes the old one, ``"keep"`` returns the old one, ``"fail"`` raises.

    :param plan: the run plan (XComArg): connection, region, the group (the environment's
        ``model_package_group``) and the partition (D) unless given, and the first argument of ``request``.
    :param package_group_name: model package group. (templated)
    :param partition_key: the partition the model was trained for, e.g. ``2026-11-20``. (templated)
    :param request: pure function ``([plan,] **request_kwargs) -> CreateModelPackage request``.
    :param request_kwargs: keyword arguments for ``request``; XComArgs in it resolve when the task runs.
    Returns ``{"model_package_arn", "version", "action", "replaced"}``.
    """

    aws_hook_class = SageMakerHook
    template_fields: Sequence[str] = aws_template_fields("package_group_name", "partition_key")
    ui_color = "#FFD9A6"

    def __init__(
        self,
        *,
        request: Callable[..., dict[str, Any]],
        request_kwargs: dict[str, Any] | None = None,
        plan: Any = None,
        package_group_name: str | None = None,
        partition_key: str | None = None,
        if_exists: Literal["replace", "keep", "fail"] = "replace",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if if_exists not in ("replace", "keep", "fail"):
            raise ValueError(f"if_exists must be 'replace', 'keep' or 'fail', got {if_exists!r}")
        self.package_group_name = package_group_name
        self.partition_key = partition_key
        self.if_exists = if_exists
        self.init_plan(plan, request, request_kwargs)

    def execute(self, context: Context) -> dict[str, Any]:
        import hashlib

        if self.resolve_plan(context) is not None:
            self.package_group_name = self.package_group_name or self.header.env.model_package_group
            self.partition_key = self.partition_key or naming.partition_value(self.header.partition_date)
        if not (self.package_group_name and self.partition_key):
            raise ValueError("package_group_name and partition_key are needed (or a plan to take them from)")
        conn = self.hook.conn
        marker = naming.registry_marker(self.partition_key)
        request = self.build()
        request["ModelPackageGroupName"] = self.package_group_name
        request["ModelPackageDescription"] = f"{marker} {request.get('ModelPackageDescription', '')}".strip()[:1024]
        model_data = request["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        request.setdefault("ClientToken", hashlib.sha256(f"{self.package_group_name}|{marker}|{model_data}".encode())
                           .hexdigest()[:36])

        same, others = [], []
        for summary in self._versions_for(marker):
            described = conn.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            serves = described["InferenceSpecification"]["Containers"][0].get("ModelDataUrl")
            (same if serves == model_data else others).append(described)
        if same:
            chosen, action = same[0], "reused"
            self.log.info("Version %s already registers %s for %s.", chosen["ModelPackageVersion"], model_data, marker)
        elif others and self.if_exists == "keep":
            chosen, action = others[0], "kept"
            self.log.info("Keeping version %s for %s (if_exists='keep').", chosen["ModelPackageVersion"], marker)
        elif others and self.if_exists == "fail":
            raise AirflowException(f"{self.package_group_name} already has version "
                                   f"{others[0]['ModelPackageVersion']} for {marker}")
        else:
            arn = conn.create_model_package(**request)["ModelPackageArn"]
            chosen, action = conn.describe_model_package(ModelPackageName=arn), "created"
            self.log.info("Registered %s version %s for %s.", self.package_group_name,
                          chosen["ModelPackageVersion"], marker)
        replaced = []
        if action != "kept":
            for old in others + same[1:]:
                conn.delete_model_package(ModelPackageName=old["ModelPackageArn"])
                replaced.append(old["ModelPackageArn"])
                self.log.info("Deleted version %s: %s has one version.", old["ModelPackageVersion"], marker)
        return {"model_package_arn": chosen["ModelPackageArn"], "version": chosen.get("ModelPackageVersion"),
                "action": action, "replaced": replaced}

    def _versions_for(self, marker: str) -> list[dict[str, Any]]:
        found = []
        for page in self.hook.conn.get_paginator("list_model_packages").paginate(
                ModelPackageGroupName=self.package_group_name, SortBy="CreationTime", SortOrder="Descending"):
            for summary in page["ModelPackageSummaryList"]:
                if naming.marked_partition(summary.get("ModelPackageDescription", "")) == str(self.partition_key):
                    found.append(summary)
        return found
