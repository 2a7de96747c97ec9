"""The model-quality view (plugins/batchml_plugin.py) in headless Chromium, on the real API server: the WAPE chart
renders with the realised accuracy Athena returns (one line per horizon, a point per day), the gate strip and
table show each day's decision, the evaluation plot loads, and the page is in Airflow's navigation. Then an extra
link the plugin registers is clicked on a dashboard_refresh task. Screenshots go to test-artifacts/.

Realised accuracy is written into the seeded forecast_accuracy table, and evaluations into S3, by
tests/accuracy_fixture.py (45 days with values the test knows; forecast_monitoring's own runs are checked in
tests/e2e/test_forecast_monitoring_e2e.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from tests.accuracy_fixture import create_forecast_accuracy, write_evaluation
from tests.scheduler.conftest import ARTIFACTS
from tests.scheduler.test_dashboard_refresh import DAG, _finished_run, _publish, _runs, refresh_dag  # noqa: F401

pytestmark = pytest.mark.scheduler
TODAY = datetime.now(UTC).date()
DAYS = [TODAY - timedelta(days=k) for k in range(45, 0, -1)]  # 45 days of accuracy, oldest first


@pytest.fixture(scope="module")
def quality_data(stack):
    import boto3

    session = boto3.Session(aws_access_key_id="sandbox", aws_secret_access_key="sandbox", region_name="us-east-1")
    written = create_forecast_accuracy(session, stack.endpoint, DAYS)
    decided = {DAYS[-3]: ("new model", {"challenger": 0.30, "champion": 0.32, "baseline": 0.50}),
               DAYS[-2]: ("champion kept", {"challenger": 0.60, "champion": 0.32, "baseline": 0.50}),
               DAYS[-1]: ("nothing published", {"challenger": 0.60, "champion": 0.58, "baseline": 0.50})}
    for day, (_, models) in decided.items():
        write_evaluation(session, stack.endpoint, day, models)
    return written, {day: decision for day, (decision, _) in decided.items()}


def test_the_view_answers_only_a_signed_in_user(stack, quality_data):
    import urllib.error
    import urllib.request

    for path in ("/model-quality/", "/model-quality/plot.png"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{stack.url}{path}", timeout=30)
        assert refused.value.code == 401, path
    signed_in = urllib.request.Request(f"{stack.url}/model-quality/",
                                       headers={"Authorization": f"Bearer {stack.token()}"})
    assert b'data-testid="wape-chart"' in urllib.request.urlopen(signed_in, timeout=60).read()


def test_the_chart_renders_with_the_realised_accuracy_and_the_gate_decisions(stack, page, quality_data):
    written, decided = quality_data
    page.goto(f"{stack.url}/model-quality/", wait_until="networkidle")
    chart = page.locator('[data-testid="wape-chart"]')
    chart.wait_for(timeout=60_000)
    box = chart.bounding_box()
    assert box and box["width"] > 500 and box["height"] > 200, box
    lines = chart.locator("polyline")
    assert lines.count() == 7, "one line per horizon"
    for i in range(7):
        points = lines.nth(i).get_attribute("points").split()
        assert len(points) == len(DAYS), "a point per day with accuracy"
    # the plotted heights follow the data: horizon 1's highest point is its largest WAPE
    h1 = [(d, w) for d, h, w in written if h == 1]
    ys = [float(p.split(",")[1]) for p in lines.nth(0).get_attribute("points").split()]
    assert ys.index(min(ys)) == h1.index(max(h1, key=lambda dw: dw[1]))
    marks = chart.locator("rect[data-decision]")
    assert [marks.nth(i).get_attribute("data-decision") for i in range(marks.count())] == list(decided.values())
    table = page.locator('[data-testid="decisions"]').inner_text()
    assert "champion kept" in table and "nothing published" in table and "new model" in table
    assert page.locator('[data-testid="evaluation-plot"]').evaluate("img => img.complete && img.naturalWidth") > 0
    assert page.locator(".problem").count() == 0, page.locator(".problem").all_inner_texts()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-model-quality.png"), full_page=True)


def test_the_view_is_in_airflows_navigation(stack, page, quality_data):
    page.goto(f"{stack.url}/plugin/model-quality", wait_until="networkidle")
    frame = page.frame_locator("iframe").first
    frame.locator('[data-testid="wape-chart"] polyline').first.wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "ui-model-quality-in-airflow.png"), full_page=True)


def test_an_extra_link_registered_by_the_plugin_opens_from_the_task(refresh_dag, page):  # noqa: F811 (a fixture)
    stack = refresh_dag
    done = [r for r in _runs(stack) if r["state"] == "success"]
    if not done:
        known = {r["dag_run_id"] for r in _runs(stack)}
        _publish(stack, "2026-11-22")
        done = [_finished_run(stack, known)]
    run_id = done[-1]["dag_run_id"]
    url = "https://us-east-1.quicksight.aws.amazon.com/sn/data-sets/demand-forecast-predictions/view"
    # the worker computed the link when the task finished (Airflow 3), and the API serves it by name
    links = stack.api("GET", f"/dags/{DAG}/dagRuns/{quote(run_id, safe='')}/taskInstances/refresh/links?map_index=0")
    assert links["extra_links"]["QuickSight data set"] == url, links
    # The console is not reached: the browser's request to it is answered here (no internet at test time).
    opened = []
    page.context.route(re.compile(r"^https://[a-z0-9-]+\.quicksight\.aws\.amazon\.com/.*"),
                       lambda route: (opened.append(route.request.url), route.fulfill(body="QuickSight stand-in")))
    page.goto(f"{stack.url}/dags/{DAG}/runs/{quote(run_id, safe='')}/tasks/refresh/mapped/0/details",
              wait_until="networkidle")
    link = page.get_by_role("link", name="QuickSight data set")
    link.wait_for(timeout=60_000)
    assert link.get_attribute("href") == url
    with page.expect_popup() as popup:
        link.click()
    popup.value.wait_for_load_state()
    assert opened == [url]
    page.screenshot(path=str(ARTIFACTS / "ui-extra-link.png"), full_page=True)
