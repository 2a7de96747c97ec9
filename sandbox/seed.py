"""``python -m sandbox seed``: every AWS resource the pipeline expects, by deploying infra/demand-forecast.yaml
(the template a real account is deployed with) through moto's CloudFormation, then the demo's raw data.

The sales history is synthetic but shaped like a retailer's: store sizes and item popularity,
trend, weekly and yearly seasonality, holidays (Christmas closed), week-long promotions with
price cuts, Poisson-gamma noise, and a few gaps (missing rows, a store outage).

Values are a deterministic function of (seed, date, store, item): every quantity for day d is drawn
from a generator seeded with (seed, d), so re-seeding a different window reproduces the same numbers
for the days they share. The default window ends yesterday (UTC), like a production table would.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sandbox import profile

EPOCH = date(2020, 1, 1)
PARQUET_SD = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}


# --- the calendar ------------------------------------------------------------------------------------
def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    d = date(year, month, 1)
    d += timedelta(days=(weekday - d.weekday()) % 7)
    return d + timedelta(weeks=n - 1)


def _last_weekday(year: int, month: int, weekday: int) -> date:
    d = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return d - timedelta(days=(d.weekday() - weekday) % 7)


def holidays(years: range) -> dict[date, str]:
    out: dict[date, str] = {}
    for y in years:
        thanksgiving = _nth_weekday(y, 11, 3, 4)
        out.update({
            date(y, 1, 1): "New Year's Day",
            _last_weekday(y, 5, 0): "Memorial Day",
            date(y, 7, 4): "Independence Day",
            _nth_weekday(y, 9, 0, 1): "Labor Day",
            thanksgiving: "Thanksgiving",
            thanksgiving + timedelta(days=1): "Black Friday",
            date(y, 12, 24): "Christmas Eve",
            date(y, 12, 25): "Christmas Day",
            date(y, 12, 31): "New Year's Eve",
        })
    return out


HOLIDAY_LIFT = {
    "New Year's Day": 0.55, "Memorial Day": 1.25, "Independence Day": 1.35, "Labor Day": 1.2,
    "Thanksgiving": 0.6, "Black Friday": 1.9, "Christmas Eve": 1.6, "Christmas Day": 0.0,
    "New Year's Eve": 1.3,
}


# --- the series --------------------------------------------------------------------------------------
class Catalog:
    """Stores, items and their fixed traits, drawn once from the seed."""

    def __init__(self, stores: int, items: int, seed: int):
        import numpy as np

        rng = np.random.default_rng([seed, 1])
        self.store_ids = [f"S{s + 1:02d}" for s in range(stores)]
        self.item_ids = [f"I{i + 1:03d}" for i in range(items)]
        self.store_size = rng.lognormal(0.0, 0.35, stores)
        self.store_growth = rng.normal(0.06, 0.05, stores)  # per year
        self.item_base = rng.lognormal(1.6, 0.7, items)  # mean units/day in an average store
        self.item_price = np.round(rng.uniform(1.5, 25.0, items), 2)
        self.item_season_amp = rng.uniform(0.0, 0.45, items)
        self.item_season_phase = rng.uniform(0, 2 * np.pi, items)
        self.item_weekend_boost = rng.uniform(1.05, 1.6, items)
        self.item_promo_lift = rng.uniform(1.3, 2.2, items)
        self.dispersion = 8.0  # gamma shape: lower = noisier

    @property
    def n_series(self) -> int:
        return len(self.store_ids) * len(self.item_ids)


def _promo_active(seed: int, day: date, n_series: int):
    """Week-long promotions: each series has a ~7% chance of a promotion in each ISO week."""
    import numpy as np

    week = (day - EPOCH).days // 7
    return np.random.default_rng([seed, 7, week]).random(n_series) < 0.07


def _day_frame(cat: Catalog, day: date, seed: int, hols: dict[date, str]):
    import numpy as np

    n_stores, n_items = len(cat.store_ids), len(cat.item_ids)
    rng = np.random.default_rng([seed, 3, (day - EPOCH).days])
    years = (day - EPOCH).days / 365.25
    doy = day.timetuple().tm_yday
    weekend = day.weekday() >= 5
    friday = day.weekday() == 4

    trend = (1 + cat.store_growth) ** years  # (stores,)
    season = 1 + cat.item_season_amp * np.sin(2 * np.pi * doy / 365.25 + cat.item_season_phase)  # (items,)
    weekly = np.where(weekend, cat.item_weekend_boost, 1.08 if friday else 0.92)  # (items,)
    holiday = HOLIDAY_LIFT.get(hols.get(day, ""), 1.0)
    promo = _promo_active(seed, day, cat.n_series).reshape(n_stores, n_items)
    lift = np.where(promo, cat.item_promo_lift[None, :], 1.0)
    mean = (cat.store_size[:, None] * trend[:, None] * cat.item_base[None, :] * season[None, :]
            * weekly[None, :] * holiday * lift)
    # Poisson-gamma (negative binomial) noise: retail counts are overdispersed.
    units = rng.poisson(rng.gamma(cat.dispersion, mean / cat.dispersion))
    price = np.where(promo, cat.item_price[None, :] * 0.8, cat.item_price[None, :])
    present = rng.random((n_stores, n_items)) > 0.003  # sporadic missing rows (feed glitches)
    if holiday == 0.0:
        present[:] = False  # stores closed: no rows at all
    outage_store = (day - EPOCH).days % 997 == 500  # one store's feed is down about once in 3 years
    if outage_store:
        present[int(rng.integers(n_stores))] = False
    rows = np.argwhere(present)
    return {
        "store_id": [cat.store_ids[s] for s, _ in rows],
        "item_id": [cat.item_ids[i] for _, i in rows],
        "units_sold": units[present].astype("int64"),
        "unit_price": np.round(price[present], 2),
        "on_promotion": promo[present],
    }


def sales_parquet(cat: Catalog, day: date, seed: int, hols: dict[date, str]) -> tuple[bytes, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = _day_frame(cat, day, seed, hols)
    table = pa.table({
        "store_id": pa.array(data["store_id"], pa.string()),
        "item_id": pa.array(data["item_id"], pa.string()),
        "units_sold": pa.array(data["units_sold"], pa.int64()),
        "unit_price": pa.array(data["unit_price"], pa.float64()),
        "on_promotion": pa.array(data["on_promotion"], pa.bool_()),
    })
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="snappy")
    return buf.getvalue(), table.num_rows


def promotions_parquet(cat: Catalog, start: date, end: date, seed: int) -> tuple[bytes, int]:
    """Promotions as the merchandising plan knows them: past ones and those planned ahead."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    stores, items, days = [], [], []
    n_items = len(cat.item_ids)
    day = start
    while day <= end:
        for idx in np.flatnonzero(_promo_active(seed, day, cat.n_series)):
            stores.append(cat.store_ids[idx // n_items])
            items.append(cat.item_ids[idx % n_items])
            days.append(day)
        day += timedelta(days=1)
    table = pa.table({
        "store_id": pa.array(stores, pa.string()),
        "item_id": pa.array(items, pa.string()),
        "promo_date": pa.array(days, pa.date32()),
        "discount_pct": pa.array([20.0] * len(days), pa.float64()),
    })
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue(), table.num_rows


def calendar_parquet(start: date, end: date, hols: dict[date, str]) -> tuple[bytes, int]:
    """A date dimension: one row per day, past and coming, with its holiday if any."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    table = pa.table({
        "calendar_date": pa.array(days, pa.date32()),
        "day_of_week": pa.array([d.isoweekday() for d in days], pa.int32()),
        "is_holiday": pa.array([d in hols for d in days], pa.bool_()),
        "holiday_name": pa.array([hols.get(d) for d in days], pa.string()),
    })
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue(), table.num_rows


# --- resources ---------------------------------------------------------------------------------------
def _columns(spec: list[tuple[str, str, str]]) -> list[dict[str, str]]:
    return [{"Name": n, "Type": t, "Comment": c} for n, t, c in spec]


SALES_COLUMNS = [
    ("store_id", "string", "store code"),
    ("item_id", "string", "item code"),
    ("units_sold", "bigint", "units sold that day"),
    ("unit_price", "double", "shelf price that day"),
    ("on_promotion", "boolean", "item was on promotion in that store"),
]


def table_input(name: str, location: str, columns, sd: dict, partition_keys=None, description="") -> dict:
    return {
        "Name": name,
        "Description": description,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet" if sd is PARQUET_SD else "csv", "EXTERNAL": "TRUE"},
        "PartitionKeys": _columns(partition_keys or []),
        "StorageDescriptor": {**json.loads(json.dumps(sd)), "Columns": _columns(columns), "Location": location},
    }


def seed(endpoint: str, *, end_date: str | None = None, days: int = 730, stores: int = 10, items: int = 50,
         random_seed: int = 20261121) -> dict[str, Any]:
    """Create the resources and load the raw tables; safe to run again (it replaces the raw data)."""
    import boto3
    from botocore.config import Config

    end = date.fromisoformat(end_date) if end_date else datetime.now(UTC).date() - timedelta(days=1)
    start = end - timedelta(days=days - 1)
    session = boto3.Session(aws_access_key_id="sandbox", aws_secret_access_key="sandbox",
                            region_name=profile.REGION)
    cfg = Config(retries={"mode": "standard", "total_max_attempts": 5}, max_pool_connections=16)
    s3 = session.client("s3", endpoint_url=endpoint, config=cfg)
    glue = session.client("glue", endpoint_url=endpoint, config=cfg)
    bucket = profile.BUCKET

    # Every AWS resource comes from the same template a real account is deployed with (infra/).
    stack = deploy_stack(session.client("cloudformation", endpoint_url=endpoint, config=cfg))
    # The template holds a placeholder; the token goes in as on AWS (README, "Deploying", step 3).
    session.client("secretsmanager", endpoint_url=endpoint, config=cfg).put_secret_value(
        SecretId=stack["outputs"]["SlackSecretArn"], SecretString=json.dumps(profile.slack_connection(endpoint)))

    raw = f"s3://{bucket}/raw"
    cat = Catalog(stores, items, random_seed)
    hols = holidays(range(start.year - 2, end.year + 2))
    _replace_table(glue, profile.RAW_DATABASE, table_input(
        "sales", f"{raw}/sales/", SALES_COLUMNS, PARQUET_SD, [("dt", "string", "sales day, YYYY-MM-DD")],
        "Daily units sold per store and item (one partition per day)."))
    _delete_prefix(s3, bucket, "raw/sales/")
    rows = _load_sales(s3, glue, bucket, cat, start, end, random_seed, hols)

    promo_bytes, promo_rows = promotions_parquet(cat, start, end + timedelta(days=90), random_seed)
    _delete_prefix(s3, bucket, "raw/promotions/")
    s3.put_object(Bucket=bucket, Key="raw/promotions/promotions.parquet", Body=promo_bytes)
    _replace_table(glue, profile.RAW_DATABASE, table_input(
        "promotions", f"{raw}/promotions/",
        [("store_id", "string", ""), ("item_id", "string", ""), ("promo_date", "date", ""),
         ("discount_pct", "double", "")], PARQUET_SD, description="Past and planned promotions."))

    calendar_bytes, calendar_rows = calendar_parquet(start - timedelta(days=400), end + timedelta(days=180), hols)
    _delete_prefix(s3, bucket, "raw/calendar/")
    s3.put_object(Bucket=bucket, Key="raw/calendar/calendar.parquet", Body=calendar_bytes)
    _replace_table(glue, profile.RAW_DATABASE, table_input(
        "calendar", f"{raw}/calendar/",
        [("calendar_date", "date", ""), ("day_of_week", "int", "ISO: 1 = Monday"),
         ("is_holiday", "boolean", ""), ("holiday_name", "string", "null on ordinary days")],
        PARQUET_SD, description="Date dimension with public holidays, past and coming."))

    data_sets = _dashboard_data_sets(session.client("quicksight", endpoint_url=endpoint, config=cfg))
    airflow = prepare_airflow_home()
    return {
        "endpoint": endpoint,
        "airflow": airflow,
        "bucket": bucket,
        "sales": {"table": f"{profile.RAW_DATABASE}.sales", "first_day": start.isoformat(),
                  "last_day": end.isoformat(), "days": days, "series": cat.n_series, "rows": rows},
        "promotions_rows": promo_rows,
        "calendar_days": calendar_rows,
        "predictions_table": f"{profile.FORECAST_DATABASE}.predictions",
        "model_package_group": profile.MODEL_PACKAGE_GROUP,
        "athena_workgroup": profile.ATHENA_WORKGROUP,
        "sagemaker_role_arn": profile.ROLE_ARN,
        "quicksight_data_sets": data_sets,
        "stack": stack,
    }


def _dashboard_data_sets(quicksight) -> list[str]:
    """The SPICE data sets dashboard_refresh refreshes (include/config/dashboard_refresh.yaml). On AWS the BI
    team owns them (they are not in infra/); here the seed stands in for it (a re-seed replaces them)."""
    import yaml

    config = yaml.safe_load((profile.REPO_ROOT / "include" / "config" / "dashboard_refresh.yaml").read_text())
    source = f"arn:aws:quicksight:{profile.REGION}:{profile.DEFAULT_ACCOUNT_ID}:datasource/demand-forecast-athena"
    ids = []
    for data_set in config["data_sets"]:
        table = data_set["reads"][0].split(".", 1)
        quicksight.create_data_set(
            AwsAccountId=profile.DEFAULT_ACCOUNT_ID, DataSetId=data_set["id"], Name=data_set["id"], ImportMode="SPICE",
            PhysicalTableMap={"t": {"RelationalTable": {"DataSourceArn": source, "Schema": table[0], "Name": table[1],
                                                        "InputColumns": [{"Name": "dt", "Type": "STRING"}]}}})
        ids.append(data_set["id"])
    return ids


STACK_NAME = "demand-forecast-sandbox"
TEMPLATE = profile.REPO_ROOT / "infra" / "demand-forecast.yaml"
PARAMETERS = profile.REPO_ROOT / "infra" / "params" / "sandbox.json"


def deploy_stack(cfn) -> dict[str, Any]:
    """Deploy infra/demand-forecast.yaml with the sandbox's parameter file, as `aws cloudformation
    deploy` would; a stack that is already there is kept (re-seeding replaces the raw data only).
    Fails if moto skipped a resource: it would leave a "complete" stack without it."""
    try:
        (existing,) = cfn.describe_stacks(StackName=STACK_NAME)["Stacks"]
    except cfn.exceptions.ClientError:
        existing = None
    if existing is None:
        cfn.create_stack(StackName=STACK_NAME, TemplateBody=TEMPLATE.read_text(),
                         Parameters=json.loads(PARAMETERS.read_text()), Capabilities=["CAPABILITY_NAMED_IAM"])
        cfn.get_waiter("stack_create_complete").wait(StackName=STACK_NAME, WaiterConfig={"Delay": 1})
        (existing,) = cfn.describe_stacks(StackName=STACK_NAME)["Stacks"]
    if existing["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        raise RuntimeError(f"stack {STACK_NAME} is {existing['StackStatus']}: {existing.get('StackStatusReason')}")
    resources = cfn.list_stack_resources(StackName=STACK_NAME)["StackResourceSummaries"]
    skipped = [r for r in resources if not r.get("LogicalResourceId") or not r.get("ResourceType")]
    if skipped:
        raise RuntimeError(f"moto skipped {len(skipped)} resource(s) of {TEMPLATE.name}: a type without "
                           "CloudFormation support in moto or sandbox.cfn")
    return {"name": STACK_NAME, "status": existing["StackStatus"], "resources": len(resources),
            "outputs": {o["OutputKey"]: o["OutputValue"] for o in existing.get("Outputs", [])}}


def prepare_airflow_home() -> dict[str, Any] | None:
    """The Airflow side of what the pipeline expects: a migrated metadata DB, and the SageMaker pool
    sized from the environment Variable (`python -m batchml.deploy`, as on a real deployment).
    Only when AIRFLOW_HOME is set (as `python -m sandbox env` does)."""
    import os
    import subprocess
    import sys

    home = os.environ.get("AIRFLOW_HOME")
    if not home:
        return None
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(profile.REPO_ROOT / "plugins"), os.environ.get("PYTHONPATH")]))}
    steps = ([sys.executable, "-m", "airflow", "db", "migrate"],
             [sys.executable, "-m", "batchml.deploy", "demand_forecast"])
    outputs = []
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"`{' '.join(cmd[1:])}` failed:\n{done.stderr[-2000:]}")
        outputs.append(done.stdout)
    return {"home": home, **json.loads(outputs[-1].strip().splitlines()[-1])}


def _load_sales(s3, glue, bucket, cat, start, end, seed, hols) -> int:
    from concurrent.futures import ThreadPoolExecutor

    table = glue.get_table(DatabaseName=profile.RAW_DATABASE, Name="sales")["Table"]
    sd = table["StorageDescriptor"]
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]

    def upload(day: date) -> tuple[date, int]:
        body, n = sales_parquet(cat, day, seed, hols)
        s3.put_object(Bucket=bucket, Key=f"raw/sales/dt={day.isoformat()}/part-00000.parquet", Body=body)
        return day, n

    with ThreadPoolExecutor(max_workers=8) as pool:
        loaded = list(pool.map(upload, days))
    partitions = [
        {"Values": [d.isoformat()], "StorageDescriptor": {**sd, "Location": f"{sd['Location']}dt={d.isoformat()}/"}}
        for d, _ in loaded
    ]
    for i in range(0, len(partitions), 100):
        resp = glue.batch_create_partition(DatabaseName=profile.RAW_DATABASE, TableName="sales",
                                           PartitionInputList=partitions[i:i + 100])
        if resp.get("Errors"):
            raise RuntimeError(f"could not register sales partitions: {resp['Errors'][:3]}")
    return sum(n for _, n in loaded)


def _delete_prefix(s3, bucket: str, prefix: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})


def _replace_table(glue, db: str, table: dict) -> None:
    try:
        glue.delete_table(DatabaseName=db, Name=table["Name"])
    except glue.exceptions.EntityNotFoundException:
        pass
    glue.create_table(DatabaseName=db, TableInput=table)
