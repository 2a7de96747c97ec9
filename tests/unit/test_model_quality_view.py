"""The model-quality page, rendered from a QualityView without AWS: the chart has one line per horizon with every
day's point, the gate strip one mark per decided day, the champion and the decisions table."""

from __future__ import annotations

import re
from datetime import date, timedelta

from batchml.ui.app import render
from batchml.ui.model_quality import DayDecision, QualityView

LAST = date(2026, 11, 30)
FIRST = LAST - timedelta(days=89)


def _view(**kw) -> QualityView:
    days = [LAST - timedelta(days=k) for k in range(10)]
    points = [(d, h, 0.3 + 0.01 * h) for d in days for h in range(1, 8)]
    decisions = {LAST: DayDecision(LAST, "new model", {"challenger": 0.31, "champion": 0.33, "baseline": 0.5}, [],
                                   "k1"),
                 LAST - timedelta(days=1): DayDecision(LAST - timedelta(days=1), "champion kept",
                                                       {"challenger": 0.6, "champion": 0.33, "baseline": 0.5},
                                                       ["challenger WAPE 0.6000 vs maximum 0.4500"], "k2")}
    return QualityView(first=FIRST, last=LAST, points=points, decisions=decisions, max_wape=0.45, **kw)


def test_the_chart_draws_each_horizon_over_the_days_and_the_gate_strip():
    html = render(_view(champion={"model_package_arn": "arn:aws:sagemaker:us-east-1:1:model-package/df/4",
                                  "version": 4, "partition_date": "2026-11-30"}))
    lines = re.findall(r'<polyline data-horizon="(\d)" points="([^"]+)"', html)
    assert [h for h, _ in lines] == [str(h) for h in range(1, 8)]
    assert all(len(points.split()) == 10 for _, points in lines)
    assert re.findall(r'data-decision="([^"]+)"', html) == ["champion kept", "new model"]
    assert "version <b>4</b>, trained for <b>2026-11-30</b>" in html
    assert "challenger WAPE 0.6000 vs maximum 0.4500" in html and "gate: max WAPE 0.45" in html
    assert "<script" not in html and "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_missing_sources_are_said_not_hidden():
    html = render(QualityView(first=FIRST, last=LAST, problems=["accuracy: EntityNotFoundException: no table"]))
    assert "no realised accuracy in these 90 days yet" in html and "No approved model version yet." in html
    assert "accuracy: EntityNotFoundException: no table" in html and "No evaluation plot yet." in html
