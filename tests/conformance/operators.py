"""What the provider's operators read from a task's context, built by hand (as in tests/integration), and a
deferral run to its end: the operator defers, its trigger's real async run yields the first event, and the
operator resumes with it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from airflow.exceptions import TaskDeferred


class FakeTI:
    def __init__(self) -> None:
        self.xcom: dict = {}

    def xcom_push(self, key: str, value, **kwargs) -> None:
        self.xcom[key] = value


def context() -> dict:
    return {"ti": FakeTI(), "dag_run": SimpleNamespace(run_id="manual__conformance")}


def defer_and_resume(op, ctx: dict):
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)
    trigger = deferred.value.trigger

    async def first_event():
        async for event in trigger.run():
            return event

    event = asyncio.run(first_event())
    return getattr(op, deferred.value.method_name)(ctx, event.payload)
