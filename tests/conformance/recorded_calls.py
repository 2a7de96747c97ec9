"""Run each client call once and record its outcome, for the scripts that run in a client's own venv
(sagemaker_v2_calls.py, sagemaker_v3_calls.py): one failing call is reported, the others still run.
Standard library only; the scripts import it from their own directory."""

from __future__ import annotations

import traceback
from collections.abc import Callable


def recorder(results: dict[str, dict], trace_chars: int = 4000) -> Callable:
    """A decorator ``@call(name)`` that runs the function at once and stores ``{"ok": value}`` or
    ``{"error": ..., "trace": ...}`` under ``name``."""

    def call(name: str):
        def wrap(fn):
            try:
                results[name] = {"ok": fn()}
            except Exception as e:  # noqa: BLE001 - each call's failure is reported, the others still run
                results[name] = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()[-trace_chars:]}
            return fn
        return wrap

    return call
