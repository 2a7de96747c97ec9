"""What on-call reads in Slack, and how it gets there. Imported only when an alert is sent.

- ``messages``: the words, as Block Kit, built by pure functions from an ``Alert``;
- ``slack``: the transport (the Slack provider's hooks, retried);
- ``policy``: who is paged, once, threads and grouping, recoveries, warnings, routing;
- ``deadline``: the Deadline Alert callback.

The names below are re-exported lazily, so importing one part does not load the others.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    **dict.fromkeys(("Alert", "MAX_REASON", "EVENT_TYPE", "aws_reason", "backfill_header", "deadline_message",
                     "failure_message", "metadata", "partition_of", "recovered_message", "warning_message"),
                    "messages"),
    "SlackChannel": "slack",
    **dict.fromkeys(("BACKFILL_WINDOW", "SEARCH_WINDOW", "WEBHOOK_STATE_VARIABLE", "Route", "Threads",
                     "failure_key", "page_failure", "post_recovered", "route", "send_warning", "_converge",
                     "_webhook_state", "_save_webhook_state"), "policy"),
    "deadline_missed": "deadline",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"batchml.alerts.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'batchml.alerts' has no attribute {name!r}")
