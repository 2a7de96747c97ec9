"""The Airflow UI after the backfills, in headless Chromium (Debian's package, driven by Playwright):
log in, open demand_forecast's grid and its runs, check they show the runs and their states, and backfill one
day through the Trigger dialog.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.scheduler.conftest import ARTIFACTS, DAYS, runs, wait_backfill, wait_for
from tools.inspect_run import inspect_partition

pytestmark = pytest.mark.scheduler


def test_grid_shows_every_backfilled_run(stack, page):
    backfilled = runs(stack)
    assert len(backfilled) == 3
    page.goto(f"{stack.url}/dags/demand_forecast", wait_until="networkidle")
    for run in backfilled.values():
        cell = page.locator(f'[data-testid="grid-{run["dag_run_id"]}-publish_predictions"]')
        cell.wait_for(timeout=30_000)
        assert cell.get_attribute("href").endswith(f"/runs/{run['dag_run_id']}/tasks/publish_predictions")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-grid.png"), full_page=True)


def test_runs_page_shows_each_run_with_its_state(stack, page):
    backfilled = runs(stack)
    from playwright.sync_api import expect

    page.goto(f"{stack.url}/dags/demand_forecast/runs", wait_until="networkidle")
    for run in backfilled.values():
        # Waited for, run by run: a CI run that read all rows at once, right after the first one rendered, found
        # one run missing (not reproduced since). If a row never comes, the failure names its run.
        row = page.locator("table tbody tr", has_text=run["dag_run_id"])
        expect(row).to_have_count(1, timeout=30_000)
        assert "Backfill" in row.inner_text()
        assert run["state"].capitalize() in row.inner_text(), (run["state"], row.inner_text())
    assert all(run["state"] == "success" for run in backfilled.values())
    page.screenshot(path=str(ARTIFACTS / "ui-runs.png"), full_page=True)


def test_backfill_dialog_runs_exactly_the_chosen_day(stack, page):
    """Last in this module: it adds a backfill run that the tests above do not expect."""
    day = DAYS[0] - timedelta(days=1)
    before = set(runs(stack))
    page.goto(f"{stack.url}/dags/demand_forecast", wait_until="networkidle")
    page.get_by_role("button", name=re.compile("Trigger")).first.click()
    dialog = page.locator("[data-scope=dialog][data-part=content][data-state=open]")
    dialog.locator("label:has-text('Backfill')").click()
    for index in (0, 1):  # From and To: the same day, 00:00 in the UI's time zone (UTC here)
        dialog.locator("[data-testid=datetime-input]").nth(index).click()
        picker = page.locator("[data-scope=popover][data-part=content][data-state=open]").last
        picker.locator("input[placeholder='YYYY/MM/DD']").fill(f"{day:%Y/%m/%d}")
        picker.locator("input[placeholder='HH:mm']").fill("00:00")
        dialog.get_by_text("Date Range").click()  # closes the picker
    # The dialog asks the API for a dry run and says how many runs it would create.
    preview = dialog.get_by_text(re.compile(r"\d+ runs? will be triggered"))
    preview.wait_for(timeout=30_000)
    assert re.match(r"1 runs? will be triggered", preview.inner_text()), preview.inner_text()
    page.screenshot(path=str(ARTIFACTS / "ui-backfill-dialog.png"), full_page=True)
    dialog.get_by_role("button", name="Run Backfill").click()

    created = wait_for_backfill_of(stack, day)
    wait_backfill(stack, created["id"])
    after = runs(stack)
    assert set(after) == before | {day.isoformat()}  # exactly the chosen day, nothing else
    assert after[day.isoformat()]["state"] == "success"
    report = inspect_partition(stack.endpoint, day.isoformat())
    assert report["partition"]["location"].endswith(f"/predictions/dt={day}/demand-forecast-predict-{day:%Y%m%d}-1/")
    assert report["prediction_rows"] > 0


def wait_for_backfill_of(stack, day) -> dict:
    def created():
        found = stack.api("GET", "/backfills?dag_id=demand_forecast")["backfills"]
        return next((b for b in found if b["from_date"].startswith(day.isoformat())), None)

    return wait_for(created, 60, interval=1, what=f"the UI's backfill of {day}")
