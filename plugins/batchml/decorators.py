"""``task``, ``task.branch`` and ``task.sensor`` as in ``airflow.sdk``, except that XComArgs among a task's
arguments resolve when the task runs, not when its templates render.

Why not ``airflow.sdk.task`` itself: its ``op_args``/``op_kwargs`` are template fields, and rendering one that
holds an XComArg pulls XCom. ``airflow tasks render`` cannot pull XCom in Airflow 3.3 (``XComArg.resolve`` needs
the task supervisor: "cannot import name 'SUPERVISOR_COMMS'", apache/airflow#59093), so every TaskFlow task
with an upstream argument crashed it. The project's operators already resolve their XComArgs at run time
(``batchml.operators.planned``); these decorators do the same for TaskFlow tasks, so the DAG files keep one
hand-off idiom and every task renders.

The arguments stay template fields: their upstream dependencies are set as before, a Jinja string among them
still renders, and ``tasks render`` shows an XComArg as what it is (``XComArg(<Task(...): prepare_run>)``).
The task's "Rendered Templates" in the UI show the same, not the values; a task's XCom shows those.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.decorators.branch_python import _BranchPythonDecoratedOperator
from airflow.providers.standard.decorators.python import _PythonDecoratedOperator
from airflow.providers.standard.decorators.sensor import DecoratedSensorOperator
from airflow.sdk.bases.decorator import task_decorator_factory
from airflow.sdk.definitions._internal.mixins import ResolveMixin

from batchml.operators.planned import resolve

if TYPE_CHECKING:
    from airflow.sdk import Context


class ResolveArgumentsAtRun:
    """Mixin for the decorated operators below: XComArgs in ``op_args``/``op_kwargs`` are left as they are when
    the templates render and resolved at the start of ``execute`` (for a sensor, once per try, before it pokes)."""

    def render_template(self, content: Any, context: Context, jinja_env: Any = None,
                        seen_oids: set[int] | None = None) -> Any:
        if isinstance(content, ResolveMixin):
            return content  # rendering it would pull XCom (see the module docstring)
        return super().render_template(content, context, jinja_env, seen_oids)

    def execute(self, context: Context) -> Any:
        self.op_args = resolve(self.op_args, context)
        self.op_kwargs = resolve(self.op_kwargs, context)
        return super().execute(context)


class PythonTaskOperator(ResolveArgumentsAtRun, _PythonDecoratedOperator):
    """``@task``, with XComArg arguments resolved when the task runs."""


class BranchTaskOperator(ResolveArgumentsAtRun, _BranchPythonDecoratedOperator):
    """``@task.branch``, with XComArg arguments resolved when the task runs."""


class SensorTaskOperator(ResolveArgumentsAtRun, DecoratedSensorOperator):
    """``@task.sensor``, with XComArg arguments resolved when the task runs."""


class _Task:
    """``task(...)``, ``task.branch(...)`` and ``task.sensor(...)``: the signatures of ``airflow.sdk.task``'s."""

    def __call__(self, python_callable: Callable | None = None, multiple_outputs: bool | None = None, **kwargs: Any):
        return task_decorator_factory(python_callable=python_callable, multiple_outputs=multiple_outputs,
                                      decorated_operator_class=PythonTaskOperator, **kwargs)

    def branch(self, python_callable: Callable | None = None, multiple_outputs: bool | None = None, **kwargs: Any):
        return task_decorator_factory(python_callable=python_callable, multiple_outputs=multiple_outputs,
                                      decorated_operator_class=BranchTaskOperator, **kwargs)

    def sensor(self, python_callable: Callable | None = None, **kwargs: Any):
        return task_decorator_factory(python_callable=python_callable, multiple_outputs=False,
                                      decorated_operator_class=SensorTaskOperator, **kwargs)


task = _Task()
