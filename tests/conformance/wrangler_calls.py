"""awswrangler calls as its documentation shows them, run by the conformance venv's Python (not the
project's), against the endpoint in AWS_ENDPOINT_URL. Prints one JSON object: each call's outcome.

Usage: ``python wrangler_calls.py BUCKET DATABASE`` (run by tests/conformance/test_awswrangler.py).
"""

from __future__ import annotations

import json
import sys
import traceback
from decimal import Decimal

import awswrangler as wr
import pandas as pd


def main(bucket: str, database: str) -> dict:
    out: dict = {"awswrangler": wr.__version__}

    def step(name, fn):
        try:
            out[name] = {"ok": fn()}
        except Exception as e:  # reported to the test, which asserts on it
            out[name] = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()[-2000:]}

    wr.catalog.create_database(database, exist_ok=True)
    df = pd.DataFrame({"id": [1, 2, 3, 4], "amount": [1.5, 2.5, 3.0, None],
                       "price": [Decimal("1.10"), Decimal("2.05"), Decimal("0.01"), None],
                       "name": ["a", "b", "c,d", None], "dt": ["2026-01-01", "2026-01-01", "2026-01-02", "2026-01-02"]})

    def to_parquet():
        res = wr.s3.to_parquet(df, path=f"s3://{bucket}/sales/", dataset=True, database=database, table="sales",
                               partition_cols=["dt"], mode="overwrite", dtype={"price": "decimal(10,2)"})
        parts = wr.catalog.get_partitions(database=database, table="sales")
        return {"paths": len(res["paths"]), "partitions": sorted(v[0] for v in parts.values()),
                "columns": wr.catalog.get_table_types(database=database, table="sales")}

    step("to_parquet", to_parquet)
    sql = "SELECT id, amount, price, name, dt, price * 2 AS twice FROM sales ORDER BY id"

    def records(frame: pd.DataFrame) -> dict:
        return {"rows": json.loads(frame.to_json(orient="values", date_format="iso", default_handler=str)),
                "dtypes": {c: str(t) for c, t in frame.dtypes.items()}}

    step("plain", lambda: records(wr.athena.read_sql_query(sql, database=database, ctas_approach=False)))
    step("ctas", lambda: records(wr.athena.read_sql_query(sql, database=database, ctas_approach=True)))
    step("unload", lambda: records(wr.athena.read_sql_query(
        sql, database=database, ctas_approach=False, unload_approach=True,
        s3_output=f"s3://{bucket}/unload/")))
    step("partition_filter", lambda: records(wr.athena.read_sql_query(
        "SELECT count(*) AS n, sum(price) AS total FROM sales WHERE dt = :dt", database=database,
        params={"dt": "2026-01-02"}, ctas_approach=False)))

    def wait_query():
        qid = wr.athena.start_query_execution("SELECT 1 + 1 AS two", database=database)
        res = wr.athena.wait_query(qid)
        return {"state": res["Status"]["State"], "rows": wr.athena.get_query_results(qid).values.tolist()}

    step("wait_query", wait_query)

    def failing():
        qid = wr.athena.start_query_execution("SELECT 'a' + 1", database=database)
        try:
            wr.athena.wait_query(qid)
        except wr.exceptions.QueryFailed as e:
            return {"raised": "QueryFailed", "message": str(e)}
        return {"raised": None}

    step("failing", failing)
    step("tables", lambda: sorted(wr.catalog.tables(database=database)["Table"].tolist()))
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), default=str))
