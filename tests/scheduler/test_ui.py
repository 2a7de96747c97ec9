"""The Airflow UI after the backfills, in headless Chromium (Debian's package, driven by Playwright):
log in, open demand_forecast's grid and its runs, and check they show the runs and their states.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.scheduler.conftest import ARTIFACTS, runs

pytestmark = pytest.mark.scheduler
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def page(stack):
    from playwright.sync_api import sync_playwright

    assert shutil.which("chromium") or __import__("os").path.exists(CHROMIUM), (
        "the UI test needs Debian's Chromium: apt-get install chromium (.ci/run does)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{stack.url}/", wait_until="networkidle")
        assert "/auth/login" in page.url  # the UI asks for a login first
        user, password = stack.login()
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", password)
        page.click("button:has-text('Sign in')")
        page.wait_for_url(re.compile(rf"^{re.escape(stack.url)}/(?!auth)"), timeout=30_000)
        yield page
        browser.close()


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
    page.goto(f"{stack.url}/dags/demand_forecast/runs", wait_until="networkidle")
    page.locator("table tbody tr").first.wait_for(timeout=30_000)
    rows = [page.locator("table tbody tr").nth(i).inner_text() for i in range(page.locator("table tbody tr").count())]
    for run in backfilled.values():
        [row] = [r for r in rows if run["dag_run_id"] in r]
        assert "Backfill" in row
        assert run["state"].capitalize() in row, (run["state"], row)
    assert all(run["state"] == "success" for run in backfilled.values())
    page.screenshot(path=str(ARTIFACTS / "ui-runs.png"), full_page=True)
