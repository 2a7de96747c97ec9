"""The one way a DAG file hands data to the project's operators: XComArgs and a pure request builder.

A DAG file passes ``plan=run`` (the first task's XComArg: the run plan) and ``request=<builder>`` with
``request_kwargs`` (more XComArgs: upstream results). When the task runs, the operator resolves them, takes the
AWS connection and region from the plan's environment, and calls the builder, which returns exactly what the
operator sends to AWS. Nothing is built from Jinja strings.

They are resolved when the task runs, not when its templates render, on purpose: ``airflow tasks render``
has no access to XCom in Airflow 3 (``XComArg.resolve`` needs the task supervisor), so a template field holding
an XComArg makes it crash. The upstream dependencies an XComArg implies are still set, as for template fields.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Context


@cache
def plan_header() -> type:
    """``PlanHeader``: what every operator reads of any pipeline's run plan (the rest belongs to the request
    builders). Built on first use, when a task runs: operators are imported on every parse of a DAG file."""
    from pydantic import BaseModel, ConfigDict

    from batchml.environment import EnvironmentConfig

    class PlanHeader(BaseModel):
        model_config = ConfigDict(extra="ignore", frozen=True)

        pipeline: str
        partition_date: date
        env: EnvironmentConfig

    return PlanHeader


def resolve(value: Any, context: Context) -> Any:
    """``value`` with every XComArg in it (nested in dicts, lists and tuples) replaced by its value."""
    from airflow.sdk.definitions._internal.mixins import ResolveMixin

    if isinstance(value, ResolveMixin):
        return value.resolve(context)
    if isinstance(value, dict):
        return {k: resolve(v, context) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(resolve(v, context) for v in value)
    return value


class FromPlan:
    """Mixin for AWS operators: ``plan``, ``request`` and ``request_kwargs`` (see the module docstring).

    :param plan: the run plan (an XComArg); gives the connection, the region and the polling interval, and is
        the first argument of ``request``.
    :param request: pure function ``(plan, **request_kwargs) -> request``.
    :param request_kwargs: keyword arguments for ``request``; XComArgs in it resolve when the task runs.
    """

    plan: Any
    request: Callable[..., Any] | None
    request_kwargs: dict[str, Any]
    header: Any = None  # the plan_header() of the resolved plan

    def init_plan(self, plan: Any, request: Callable[..., Any] | None, request_kwargs: dict[str, Any] | None) -> None:
        """Call at the end of ``__init__``: keeps the arguments and sets the upstream dependencies."""
        from airflow.sdk.definitions.xcom_arg import XComArg

        self.plan, self.request, self.request_kwargs = plan, request, dict(request_kwargs or {})
        for value in (plan, self.request_kwargs):
            XComArg.apply_upstream_relationship(self, value)

    def resolve_plan(self, context: Context) -> Any:
        """Resolve the inputs and apply the plan's environment; returns the plan's value (None without one).
        Call first in ``execute`` and in ``resume_execution`` (a resumed task starts in a new process)."""
        self.request_kwargs = resolve(self.request_kwargs, context)
        if self.plan is None:
            return None
        self.plan = resolve(self.plan, context)
        self.header = plan_header().model_validate(self.plan)
        env = self.header.env
        self.aws_conn_id, self.region_name = env.aws_conn_id, env.region
        if hasattr(self, "poll_interval"):
            self.poll_interval = env.poll_interval_seconds
        return self.plan

    def build(self, **extra: Any) -> Any:
        """The request: ``request(plan, **extra, **request_kwargs)`` (without ``plan`` when there is none)."""
        if self.request is None:
            raise ValueError(f"{type(self).__name__} needs a request builder here")
        args = () if self.plan is None else (self.plan,)
        return self.request(*args, **extra, **self.request_kwargs)
