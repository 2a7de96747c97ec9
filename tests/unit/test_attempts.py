"""Which earlier work belongs to a task's attempt chain: the tries since the last clear, of this run."""

from __future__ import annotations

from batchml.attempts import TAG_RUN_START, Attempt

STARTED = "2026-12-07T01:33:32.611088+00:00"
REMADE = "2026-12-07T01:40:02.000001+00:00"


def attempt(try_number: int, first: int = 1, run_start: str | None = STARTED) -> Attempt:
    return Attempt("demand_forecast", "backfill__2026-12-04T00:00:00+00:00", "train", try_number, first, run_start)


def tags(a: Attempt) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in a.tags()}


def test_a_retry_owns_the_earlier_tries_of_its_chain_only():
    assert attempt(3).launched(tags(attempt(1))) and attempt(3).launched(tags(attempt(3)))
    assert not attempt(5, first=5).launched(tags(attempt(4)))  # cleared since: a new chain
    assert not attempt(1).launched(tags(attempt(2)))  # a later try is not an earlier one


def test_a_run_made_again_with_the_same_run_id_owns_nothing_of_the_old_one():
    old = tags(attempt(1))
    assert old[TAG_RUN_START] == STARTED
    assert not attempt(1, run_start=REMADE).launched(old)
    assert not attempt(1, run_start=REMADE).launched_query(attempt(1).comment() + "\nSELECT 1")
    assert attempt(2, run_start=REMADE).launched_query(attempt(1, run_start=REMADE).comment() + "\nSELECT 1")


def test_work_from_before_the_run_start_tag_is_judged_by_run_id_and_tries():
    legacy = {k: v for k, v in tags(attempt(1)).items() if k != TAG_RUN_START}
    assert attempt(2, run_start=REMADE).launched(legacy)
    legacy_sql = attempt(1, run_start=None).comment() + "\nSELECT 1"
    assert "run_start" not in legacy_sql and attempt(2).launched_query(legacy_sql)
