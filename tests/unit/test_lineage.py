"""Lineage names: what the project's operators report to the OpenLineage listener (e2e: test_openlineage_*)."""

from __future__ import annotations

import pytest

from batchml.operators import lineage


def test_tables_read_leaves_out_ctes_and_qualifies_with_the_default_database():
    sql = """WITH history AS (SELECT * FROM sales WHERE dt >= ?), keys AS (SELECT DISTINCT store_id FROM history)
             SELECT * FROM keys JOIN other_db.stores AS s ON s.store_id = keys.store_id JOIN sales USING (store_id)"""
    assert lineage.tables_read(sql, "retail") == [("other_db", "stores"), ("retail", "sales")]


def test_s3_datasets_of_a_prefix_and_of_an_object():
    assert (lineage.s3_dataset("s3://b/a/dt=2026-12-05/").namespace, lineage.s3_dataset("s3://b/a/dt=2026-12-05/").name
            ) == ("s3://b", "a/dt=2026-12-05")
    assert lineage.s3_dataset("s3://b/m/model.tar.gz").name == "m/model.tar.gz"
    with pytest.raises(ValueError, match="not an S3 URI"):
        lineage.s3_dataset("/tmp/x")


def test_job_uris_per_job_type():
    processing = {"ProcessingInputs": [{"InputName": "code", "S3Input": {"S3Uri": "s3://b/code"}},
                                       {"InputName": "db", "DatasetDefinition": {}}],
                  "ProcessingOutputConfig": {"Outputs": [{"S3Output": {"S3Uri": "s3://b/out"}}]}}
    assert lineage.job_uris("processing", processing) == (["s3://b/code"], ["s3://b/out"])
    training = {"InputDataConfig": [{"DataSource": {"S3DataSource": {"S3Uri": "s3://b/train"}}}],
                "ModelArtifacts": {"S3ModelArtifacts": "s3://b/m/model.tar.gz"}}
    assert lineage.job_uris("training", training) == (["s3://b/train"], ["s3://b/m/model.tar.gz"])
    transform = {"TransformInput": {"DataSource": {"S3DataSource": {"S3Uri": "s3://b/in"}}},
                 "TransformOutput": {"S3OutputPath": "s3://b/pred"}}
    assert lineage.job_uris("transform", transform) == (["s3://b/in"], ["s3://b/pred"])
