"""The model-quality page: a FastAPI app the plugin mounts on Airflow's API server at ``/model-quality``.

HTML with the chart as inline SVG (``batchml.ui.chart``), the gate decisions as a table, the champion, and the
latest evaluation plot (served from S3 through ``/model-quality/plot.png``). No script, no CDN: the page is
complete as the server sends it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from airflow.api_fastapi.core_api.security import requires_access_dag
from fastapi import Depends, FastAPI, Response
from fastapi.responses import HTMLResponse

from batchml.ui.chart import DECISION_COLOURS, wape_chart

# Only a signed-in user who may read the forecast DAG sees its model quality: Airflow's own check, with the
# UI's session cookie (the page is embedded in the UI) or a bearer token, as for the REST API.
app = FastAPI(title="Model quality", docs_url=None, redoc_url=None, openapi_url=None,
              dependencies=[Depends(requires_access_dag("GET", param_dag_id="demand_forecast"))])


def _session():
    """A boto3 session as the pipeline's AWS connection (the Airflow role), from the environment Variable."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    from batchml.environment import EnvironmentConfig
    from batchml.ui.model_quality import PIPELINE

    env = EnvironmentConfig.load(PIPELINE, metadata_db=True)
    return AwsBaseHook(aws_conn_id=env.aws_conn_id, region_name=env.region).get_session(region_name=env.region)


def _view():
    from batchml.ui.model_quality import gather

    session = _session()
    return session, gather(session, today=datetime.now(UTC).date())


@app.get("/", response_class=HTMLResponse)
def page() -> str:
    _, view = _view()
    return render(view)


@app.get("/plot.png")
def plot() -> Response:
    from batchml.ui.model_quality import plot_bytes

    session, view = _view()
    data = plot_bytes(session, view)
    if data is None:
        return Response(status_code=404, content=b"no evaluation plot yet")
    return Response(content=data, media_type="image/png")


def render(view) -> str:
    """The page for a ``QualityView`` (pure: the tests render it without AWS)."""
    decisions = {d: v.decision for d, v in view.decisions.items()}
    chart = wape_chart(view.points, decisions, first=view.first, last=view.last, max_wape=view.max_wape)
    champion = view.champion
    champion_html = (f'<p data-testid="champion">Champion: version <b>{champion["version"]}</b>, trained for '
                     f'<b>{champion["partition_date"]}</b><br><code>{escape(champion["model_package_arn"])}</code></p>'
                     if champion else '<p data-testid="champion">No approved model version yet.</p>')
    rows = "".join(
        f'<tr data-day="{d}"><td>{d}</td><td><span class="dot" style="background:{DECISION_COLOURS[v.decision]}">'
        f'</span>{escape(v.decision)}</td>'
        + "".join(f"<td>{w:.3f}</td>" if isinstance(w, (int, float)) else "<td>-</td>" for w in v.wape.values())
        + f"<td>{escape('; '.join(v.reasons))}</td></tr>"
        for d, v in sorted(view.decisions.items(), reverse=True))
    plot_html = (f'<h2>Latest evaluation plot ({view.plot[0]})</h2><img data-testid="evaluation-plot" '
                 'src="plot.png" alt="forecast vs actuals on the holdout week" style="max-width:960px">'
                 if view.plot else "<p>No evaluation plot yet.</p>")
    problems = "".join(f'<p class="problem">{escape(p)}</p>' for p in view.problems)
    h1 = view.points and [w for d, h, w in view.points if h == 1]
    latest = f"latest horizon-1 WAPE {h1[-1]:.3f}" if h1 else "no realised accuracy yet"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>demand_forecast: model quality</title>
<style>body{{font-family:sans-serif;margin:16px;color:#222}} table{{border-collapse:collapse}}
td,th{{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}} .dot{{display:inline-block;width:10px;
height:10px;margin-right:6px;border-radius:5px}} .problem{{color:#b00}}</style></head>
<body><h1>demand_forecast: model quality</h1>
<p>Realised WAPE by day and horizon, {view.first} to {view.last} ({latest}); the gate's decision per day below
the chart.</p>{problems}
{chart}
{champion_html}
<h2>Gate decision per day</h2>
<table data-testid="decisions"><tr><th>day</th><th>decision</th><th>challenger</th><th>champion</th>
<th>baseline</th><th>why not shipped</th></tr>{rows}</table>
{plot_html}
</body></html>"""
