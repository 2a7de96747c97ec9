"""OpenLineage datasets for the project's operators, named as the Amazon provider's operators name them.

The provider's SageMaker and Athena operators report lineage; ours replace them (see their docstrings), so
they must report it too, or a lineage backend (Marquez, DataHub, ...) would lose the pipeline's graph. The
names follow the OpenLineage naming spec, as the provider does:

- S3: namespace ``s3://<bucket>``, name the key prefix (without a trailing ``/``, so a prefix written by one
  step and read by the next is one dataset);
- an Athena/Glue table: namespace ``awsathena://athena.<region>.amazonaws.com``, name
  ``<catalog>.<database>.<table>`` (the provider's ``AthenaOperator``): the extraction's input tables and the
  published Glue table carry the same name, so the graph joins the pipeline to whatever reads its table.

Pure functions of the request or the job description; the operators call them in
``get_openlineage_facets_on_complete``, and the provider's listener does the rest.
"""

from __future__ import annotations

from typing import Any

ATHENA_CATALOG = "AwsDataCatalog"


def s3_dataset(uri: str):
    from airflow.providers.common.compat.openlineage.facet import Dataset

    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    return Dataset(namespace=f"s3://{bucket}", name=key.rstrip("/") or "/")


def table_dataset(region: str, database: str, table: str, catalog: str = ATHENA_CATALOG):
    from airflow.providers.common.compat.openlineage.facet import Dataset

    return Dataset(namespace=f"awsathena://athena.{region}.amazonaws.com", name=f"{catalog}.{database}.{table}")


def tables_read(sql: str, default_database: str) -> list[tuple[str, str]]:
    """(database, table) of every table a SELECT reads, CTEs left out; sorted, each once."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="athena")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    return sorted({(t.db or default_database, t.name) for t in tree.find_all(exp.Table)
                   if t.db or t.name not in ctes})


def job_uris(job_type: str, describe: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(input URIs, output URIs) of a completed SageMaker job, from its Describe answer."""
    if job_type == "processing":
        inputs = [i["S3Input"]["S3Uri"] for i in describe.get("ProcessingInputs", []) if "S3Input" in i]
        outputs = [o["S3Output"]["S3Uri"] for o in describe.get("ProcessingOutputConfig", {}).get("Outputs", [])]
    elif job_type == "training":
        inputs = [c["DataSource"]["S3DataSource"]["S3Uri"] for c in describe.get("InputDataConfig", [])
                  if "S3DataSource" in c.get("DataSource", {})]
        outputs = [describe["ModelArtifacts"]["S3ModelArtifacts"]] if describe.get("ModelArtifacts") else []
    elif job_type == "transform":
        inputs = [describe["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]]
        outputs = [describe["TransformOutput"]["S3OutputPath"]]
    else:
        raise ValueError(f"unknown job type {job_type!r}")
    return inputs, outputs
