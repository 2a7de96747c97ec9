"""The SageMaker API the sandbox answers itself (every other SageMaker operation goes to moto).

This module maps operations to handlers and keeps state per account and region; jobs.py,
runner.py and the per-kind modules (processing.py, training.py, transform.py) run the jobs,
registry.py holds models and the Model Registry. What is and is not emulated is listed in the
package docstring (sandbox/sagemaker/__init__.py).
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from sandbox.context import SandboxContext
from sandbox.protocol import AwsError, RequestInfo
from sandbox.sagemaker import arns, containers, processing, training, transform
from sandbox.sagemaker.containers import job_directory
from sandbox.sagemaker.jobs import KINDS, PROCESSING, TRAINING, TRANSFORM, Job, JobKind
from sandbox.sagemaker.listing import Listable, list_page
from sandbox.sagemaker.moto_bridge import mirror_model_created, mirror_model_deleted, moto_tags
from sandbox.sagemaker.registry import Registry
from sandbox.sagemaker.runner import Runner
from sandbox.sagemaker.tags import TagStore
from sandbox.sagemaker.validation import validate_request, validation_error

_KIND_MODULES = {PROCESSING.key: processing, TRAINING.key: training, TRANSFORM.key: transform}
_JOB_VERBS = {"Create{}": "create", "Describe{}": "describe", "Stop{}": "stop", "List{}s": "list"}
_REGISTRY_OPERATIONS = (
    "CreateModel",
    "DescribeModel",
    "DeleteModel",
    "ListModels",
    "CreateModelPackageGroup",
    "DescribeModelPackageGroup",
    "ListModelPackageGroups",
    "DeleteModelPackageGroup",
    "CreateModelPackage",
    "DescribeModelPackage",
    "ListModelPackages",
    "UpdateModelPackage",
    "DeleteModelPackage",
)
_TAG_OPERATIONS = ("AddTags", "ListTags", "DeleteTags")
Handler = Callable[["RegionState", dict[str, Any]], dict[str, Any]]


class RegionState:
    """Everything the service holds for one account and region."""

    def __init__(self, region: str, account: str):
        self.region, self.account = region, account
        self.jobs: dict[str, dict[str, Job]] = {key: {} for key in KINDS}
        self.registry = Registry(region, account)
        self.tags = TagStore()
        self.lock = threading.RLock()

    def job(self, kind: JobKind, name: str) -> Job:
        job = self.jobs[kind.key].get(name)
        if job is None:
            raise validation_error("Requested resource not found.")
        return job

    def owns(self, arn: str) -> bool:
        parsed = arns.parse(arn)
        if parsed is None or parsed[0] != self.region:
            return False
        job_kinds = {k.arn_type: k for k in KINDS.values()}
        if parsed[2] in job_kinds:
            with self.lock:
                job = self.jobs[job_kinds[parsed[2]].key].get(parsed[3])
            return job is not None and job.arn == arn
        return self.registry.owns(arn)


class SageMakerService:
    name = "sagemaker"
    operations: frozenset[str] = frozenset(
        [
            *(verb.format(kind.api) for verb in _JOB_VERBS for kind in KINDS.values()),
            *_REGISTRY_OPERATIONS,
            *_TAG_OPERATIONS,
        ]
    )

    def __init__(self, ctx: SandboxContext):
        self.ctx = ctx
        self._states: dict[tuple[str, str], RegionState] = {}
        self._lock = threading.Lock()
        self.runner = Runner(
            ctx,
            {
                PROCESSING.key: lambda job: processing.ProcessingExecution(job, ctx),
                TRAINING.key: lambda job: training.TrainingExecution(job, ctx),
                TRANSFORM.key: lambda job: transform.TransformExecution(job, ctx),
            },
        )
        self._handlers = self._handler_table()

    def _handler_table(self) -> dict[str, Handler]:
        """CreateTrainingJob -> _create_job(kind=TRAINING), CreateModel -> _create_model, ..."""
        table: dict[str, Handler] = {}
        for template, verb in _JOB_VERBS.items():
            for kind in KINDS.values():
                table[template.format(kind.api)] = partial(getattr(self, f"_{verb}_job"), kind=kind)
        for operation in _REGISTRY_OPERATIONS:
            table[operation] = getattr(self, "_" + re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower())
        for operation in _TAG_OPERATIONS:
            table[operation] = partial(self._tags, operation=operation)
        assert set(table) == self.operations
        return table

    # -- Service protocol ----------------------------------------------------------------------------
    def handle(self, operation: str, params: dict[str, Any], request: RequestInfo) -> dict[str, Any]:
        validate_request(operation, params)
        return self._handlers[operation](self._state(request.region, request.account_id), params)

    def status(self) -> dict[str, Any]:
        jobs: dict[str, dict[str, int]] = {key: {} for key in KINDS}
        totals = {"models": 0, "model_package_groups": 0, "model_packages": 0}
        for state in self._all_states():
            with state.lock:
                for key, by_name in state.jobs.items():
                    for job in by_name.values():
                        jobs[key][job.status] = jobs[key].get(job.status, 0) + 1
            for name, count in state.registry.status().items():
                totals[name] += count
        return {
            "jobs": jobs,
            **totals,
            "running_jobs": self.runner.running,
            "peak_concurrent_jobs": self.runner.slots.peak,
            "max_concurrent_jobs": self.ctx.max_concurrent_jobs,
            "excess_jobs": "queued" if self.ctx.queue_excess_jobs else "refused (ResourceLimitExceeded)",
            "opt_ml": containers.isolation()[1],
        }

    def reset(self) -> None:
        self.runner.stop_all()
        with self._lock:
            self._states.clear()
        self.runner.slots.reset_peak()
        shutil.rmtree(self.ctx.state_dir / "jobs", ignore_errors=True)

    def shutdown(self) -> None:
        self.runner.stop_all()

    def _state(self, region: str, account: str) -> RegionState:
        with self._lock:
            key = (account, region)
            if key not in self._states:
                self._states[key] = RegionState(region, account)
            return self._states[key]

    def _all_states(self) -> list[RegionState]:
        with self._lock:
            return list(self._states.values())

    # -- jobs ----------------------------------------------------------------------------------------
    def _create_job(self, state: RegionState, params: dict[str, Any], *, kind: JobKind) -> dict[str, Any]:
        name = params[kind.name_field]
        extra = self._check_job_request(state, kind, params)
        arn = arns.arn(state.region, state.account, kind.arn_type, name)
        with state.lock:
            if name in state.jobs[kind.key]:
                label = kind.label.capitalize()
                raise AwsError(
                    "ResourceInUse",
                    f"{label} names must be unique within an AWS account and region, "
                    f"and a {kind.label} with this name already exists ({arn})",
                )
            self._check_quota(state, kind, params)
            job = Job(
                kind,
                name,
                arn,
                state.region,
                state.account,
                request={k: v for k, v in params.items() if k != "Tags"},
                directory=job_directory(self.ctx, kind.key, state.region, name),
                extra=extra,
            )
            job.fault = self.ctx.faults.take_job_fault(name)
            state.jobs[kind.key][name] = job
            state.tags.set(arn, params.get("Tags") or [])
        self.runner.start(job)
        return {kind.arn_field: arn}

    def _check_quota(self, state: RegionState, kind: JobKind, params: dict[str, Any]) -> None:
        """--max-concurrent-jobs is an account quota per job type, as on AWS: a Create that would exceed it is
        refused with ResourceLimitExceeded, in AWS's wording, naming the sandbox's quota (AWS's quotas are
        per instance type and job type; the sandbox has one per job type)."""
        if self.ctx.queue_excess_jobs:
            return
        limit = self.ctx.max_concurrent_jobs
        in_use = sum(1 for j in state.jobs[kind.key].values() if j.status in ("InProgress", "Stopping"))
        if in_use + 1 > limit:
            raise AwsError(
                "ResourceLimitExceeded",
                f"The account-level service limit 'concurrent {kind.label}s (sandbox --max-concurrent-jobs)' is "
                f"{limit} {kind.label}s, with current utilization of {in_use} {kind.label}s and a request delta "
                f"of 1 {kind.label}s. Please use AWS Service Quotas to request an increase for this quota. If "
                "AWS Service Quotas is not available, contact AWS support to request an increase for this quota.",
            )

    def _check_job_request(self, state: RegionState, kind: JobKind, params: dict[str, Any]) -> dict[str, Any]:
        if kind is PROCESSING:
            processing.check_request(params)
        elif kind is TRAINING:
            training.check_request(params, self.ctx, state.region)
        else:
            return {"container": transform.check_request(params, state.registry)}
        return {}

    def _describe_job(self, state: RegionState, params: dict[str, Any], *, kind: JobKind) -> dict[str, Any]:
        return _KIND_MODULES[kind.key].describe(state.job(kind, params[kind.name_field]))

    def _stop_job(self, state: RegionState, params: dict[str, Any], *, kind: JobKind) -> dict[str, Any]:
        job = state.job(kind, params[kind.name_field])
        if not job.request_stop("user"):
            raise validation_error(
                f"The request was rejected because the {kind.label} is in status {job.status}."
            )
        return {}

    def _list_job(self, state: RegionState, params: dict[str, Any], *, kind: JobKind) -> dict[str, Any]:
        module = _KIND_MODULES[kind.key]
        with state.lock:
            jobs = list(state.jobs[kind.key].values())
        if params.get("WarmPoolStatusEquals") or params.get("TrainingPlanArnEquals"):
            jobs = []  # the sandbox has neither warm pools nor training plans
        how = Listable(
            name=lambda j: j.name,
            created=lambda j: j.created,
            modified=lambda j: j.last_modified,
            status=lambda j: j.status,
        )
        default_order = "Descending" if kind is TRANSFORM else "Ascending"
        page, token = list_page(jobs, params, how, default_order=default_order)
        out: dict[str, Any] = {f"{kind.api}Summaries": [module.summary(j) for j in page]}
        if token:
            out["NextToken"] = token
        return out

    # -- models and the Model Registry ---------------------------------------------------------------
    def _create_model(self, state: RegionState, params: dict[str, Any]) -> dict[str, Any]:
        model = state.registry.create_model(params)
        state.tags.set(model.arn, params.get("Tags") or [])
        mirror_model_created(state.account, state.region, params)
        return {"ModelArn": model.arn}

    def _describe_model(self, state: RegionState, params: dict[str, Any]) -> dict[str, Any]:
        return state.registry.describe_model(params["ModelName"])

    def _delete_model(self, state: RegionState, params: dict[str, Any]) -> dict[str, Any]:
        arn = state.registry.model(params["ModelName"]).arn
        state.registry.delete_model(params["ModelName"])
        state.tags.drop(arn)
        mirror_model_deleted(state.account, state.region, params["ModelName"])
        return {}

    def _list_models(self, state: RegionState, params: dict[str, Any]) -> dict[str, Any]:
        return state.registry.list_models(params)

    def _create_model_package_group(self, state: RegionState, params: dict[str, Any]) -> dict[str, Any]:
        group = state.registry.create_group(params)
        state.tags.set(group.arn, params.get("Tags") or [])
        return {"ModelPackageGroupArn": group.arn}

    def _describe_model_package_group(self, state: RegionState, params: dict[str, Any]) -> dict[str, Any]:
        return state.registry.describe_group(params["ModelPackageGroupName"])

    def _list_model_package_groups(self, state: RegionState, params: dict[str, Any]) -> dict[str, Any]:
        return state.registry.list_groups(params)

    def _delete_model_package_group(self, state: RegionState, params: dict[str, Any]) -> dict[str, Any]:
        arn = state.registry.group(params["ModelPackageGroupName"]).arn
        state.registry.delete_group(params["ModelPackageGroupName"])
        state.tags.drop(arn)
        return {}

    def _create_model_package(self, state: RegionState, params: dict[str, Any]) -> dict[str, Any]:
        package, created = state.registry.create_package(params)
        if created:
            state.tags.set(package.arn, params.get("Tags") or [])
        return {"ModelPackageArn": package.arn}

    def _describe_model_package(self, state: RegionState, params: dict[str, Any]) -> dict[str, Any]:
        return state.registry.describe_package(params["ModelPackageName"])

    def _list_model_packages(self, state: RegionState, params: dict[str, Any]) -> dict[str, Any]:
        return state.registry.list_packages(params)

    def _update_model_package(self, state: RegionState, params: dict[str, Any]) -> dict[str, Any]:
        return {"ModelPackageArn": state.registry.update_package(params).arn}

    def _delete_model_package(self, state: RegionState, params: dict[str, Any]) -> dict[str, Any]:
        arn = state.registry.package(params["ModelPackageName"]).arn
        state.registry.delete_package(params["ModelPackageName"])
        state.tags.drop(arn)
        return {}

    # -- tags ----------------------------------------------------------------------------------------
    def _tags(self, state: RegionState, params: dict[str, Any], *, operation: str) -> dict[str, Any]:
        arn = params["ResourceArn"]
        if not state.owns(arn):
            return moto_tags(operation, state.region, state.account, params)
        if operation == "AddTags":
            state.tags.add(arn, params["Tags"])
            return {"Tags": params["Tags"]}
        if operation == "DeleteTags":
            state.tags.remove(arn, params["TagKeys"])
            return {}
        return state.tags.page(arn, params.get("MaxResults"), params.get("NextToken"))
