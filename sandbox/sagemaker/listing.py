"""The List* operations' shared behaviour: filters, sorting and opaque NextToken pagination.

A NextToken is a cursor (the sort key of the last item returned), not an offset, so jobs created
between two pages neither repeat nor vanish. It also fingerprints the filters: reusing a token with
different filters is refused, as AWS does.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.aws import epoch
from sandbox.sagemaker.validation import parse_timestamp, validation_error

DEFAULT_MAX_RESULTS = 10


@dataclass(frozen=True)
class Listable:
    """How to read the fields the filters and sort orders need from one kind of record."""

    name: Callable[[Any], str]
    created: Callable[[Any], datetime]
    modified: Callable[[Any], datetime] | None = None
    status: Callable[[Any], str] | None = None
    ident: Callable[[Any], str] | None = None  # unique tie-breaker when names repeat (package versions)


def list_page(
    records: Iterable[Any], params: dict[str, Any], how: Listable, *, default_order: str
) -> tuple[list[Any], str | None]:
    """One page of ``records`` for a List* request, and the NextToken for the next one (or None)."""
    selected = [r for r in records if _matches(r, params, how)]
    sort_by = params.get("SortBy") or "CreationTime"
    descending = (params.get("SortOrder") or default_order) == "Descending"
    key = _sort_key(how, sort_by)
    selected.sort(key=key, reverse=descending)
    fingerprint = _fingerprint(params)
    token = params.get("NextToken")
    if token:
        cursor = _decode(token, fingerprint)
        selected = [r for r in selected if (key(r) < cursor if descending else key(r) > cursor)]
    limit = params.get("MaxResults") or DEFAULT_MAX_RESULTS
    page = selected[:limit]
    more = len(selected) > limit
    return page, (_encode(key(page[-1]), fingerprint) if more else None)


def _matches(record: Any, params: dict[str, Any], how: Listable) -> bool:
    contains = params.get("NameContains")
    # SageMaker's NameContains ignores case.
    if contains and contains.lower() not in how.name(record).lower():
        return False
    if params.get("StatusEquals") and how.status and how.status(record) != params["StatusEquals"]:
        return False
    if not _in_window(how.created(record), params.get("CreationTimeAfter"), params.get("CreationTimeBefore")):
        return False
    if how.modified is not None:
        return _in_window(
            how.modified(record), params.get("LastModifiedTimeAfter"), params.get("LastModifiedTimeBefore")
        )
    return True


def _in_window(when: datetime, after: Any, before: Any) -> bool:
    # Compare at the precision the API shows, so a CreationTime read from Describe excludes its own job.
    lo, hi = parse_timestamp(after), parse_timestamp(before)
    shown = epoch(when)
    return (lo is None or shown > lo.timestamp()) and (hi is None or shown < hi.timestamp())


def _sort_key(how: Listable, sort_by: str) -> Callable[[Any], tuple]:
    # A unique tie-breaker makes the order total, so that a cursor is unambiguous.
    ident = how.ident or how.name
    if sort_by == "Name":
        return lambda r: (how.name(r), ident(r))
    if sort_by == "Status" and how.status is not None:
        status = how.status
        return lambda r: (status(r), ident(r))
    return lambda r: (how.created(r).timestamp(), ident(r))


def _fingerprint(params: dict[str, Any]) -> str:
    filters = {k: v for k, v in params.items() if k not in ("NextToken", "MaxResults")}
    return hashlib.sha1(json.dumps(filters, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _encode(cursor: tuple, fingerprint: str) -> str:
    raw = json.dumps({"after": list(cursor), "filters": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode(token: str, fingerprint: str) -> tuple:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        cursor, seen = tuple(data["after"]), data["filters"]
    except (ValueError, KeyError, TypeError):
        raise validation_error("Invalid pagination token") from None
    if seen != fingerprint:
        raise validation_error(
            "Invalid pagination token: the request's filters changed since the token was issued"
        )
    return cursor
