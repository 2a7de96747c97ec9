"""The sandbox records every AWS call as IAM would authorise it: who, which action, which resource."""

from __future__ import annotations

import pytest


def _seen(sandbox, principal="sandbox"):
    return {(e["action"], e["resource"], tuple(sorted(e["context"].items())))
            for e in sandbox.client.access() if e["principal"] == principal}


def test_s3_calls_are_recorded_per_object_and_list_prefix(sandbox):
    s3 = sandbox.boto3_client("s3")
    sandbox.client.clear_access()
    s3.create_bucket(Bucket="access-rec")
    s3.put_object(Bucket="access-rec", Key="ml/a/x.csv", Body=b"1")
    s3.copy_object(Bucket="access-rec", Key="ml/b/y.csv", CopySource="access-rec/ml/a/x.csv")
    s3.get_object(Bucket="access-rec", Key="ml/a/x.csv")
    s3.list_objects_v2(Bucket="access-rec", Prefix="ml/a/")
    s3.delete_objects(Bucket="access-rec", Delete={"Objects": [{"Key": "ml/a/x.csv"}, {"Key": "ml/b/y.csv"}]})
    seen = _seen(sandbox)
    assert {("s3:PutObject", "arn:aws:s3:::access-rec/ml/a/x.csv", ()),
            ("s3:PutObject", "arn:aws:s3:::access-rec/ml/b/y.csv", ()),
            ("s3:GetObject", "arn:aws:s3:::access-rec/ml/a/x.csv", ()),
            ("s3:ListBucket", "arn:aws:s3:::access-rec", (("s3:prefix", "ml/a/"),)),
            ("s3:DeleteObject", "arn:aws:s3:::access-rec/ml/a/x.csv", ()),
            ("s3:DeleteObject", "arn:aws:s3:::access-rec/ml/b/y.csv", ())} <= seen
    # the DeleteObjects body was read for the record and still reached S3
    assert s3.list_objects_v2(Bucket="access-rec").get("KeyCount") == 0


def test_json_services_are_recorded_with_the_resource_iam_checks(sandbox):
    glue, sm, athena = (sandbox.boto3_client(s) for s in ("glue", "sagemaker", "athena"))
    sandbox.client.clear_access()
    glue.create_database(DatabaseInput={"Name": "access_db"})
    glue.create_table(DatabaseName="access_db", TableInput={"Name": "t", "StorageDescriptor": {
        "Columns": [{"Name": "a", "Type": "string"}], "Location": "s3://access-rec/t/"}})
    glue.get_partitions(DatabaseName="access_db", TableName="t")
    sm.list_training_jobs(NameContains="access")
    with pytest.raises(sm.exceptions.ClientError):
        sm.describe_processing_job(ProcessingJobName="Access-Job-1")
    sm.create_model_package_group(ModelPackageGroupName="access-group", Tags=[{"Key": "k", "Value": "v"}])
    athena.create_work_group(Name="access_wg", Configuration={
        "ResultConfiguration": {"OutputLocation": "s3://access-rec/results/"}})
    qid = athena.start_query_execution(QueryString="SELECT 1", WorkGroup="access_wg")["QueryExecutionId"]
    athena.get_query_execution(QueryExecutionId=qid)
    seen = _seen(sandbox)
    arn = "arn:aws:{}:us-east-1:123456789012"
    assert {("glue:GetPartitions", arn.format("glue") + ":catalog", ()),
            ("glue:GetPartitions", arn.format("glue") + ":database/access_db", ()),
            ("glue:GetPartitions", arn.format("glue") + ":table/access_db/t", ()),
            ("sagemaker:ListTrainingJobs", "*", ()),
            ("sagemaker:CreateModelPackageGroup", arn.format("sagemaker") + ":model-package-group/access-group", ()),
            ("sagemaker:AddTags", arn.format("sagemaker") + ":model-package-group/access-group", ()),
            ("sagemaker:DescribeProcessingJob", arn.format("sagemaker") + ":processing-job/access-job-1", ()),
            ("athena:StartQueryExecution", arn.format("athena") + ":workgroup/access_wg", ()),
            # a query's later calls are authorised against the workgroup it ran in
            ("athena:GetQueryExecution", arn.format("athena") + ":workgroup/access_wg", ())} <= seen


def test_the_record_is_per_principal_and_can_be_cleared(sandbox, unique):
    from tests.sandbox.test_iam import make_role, session_clients

    role = make_role(sandbox.boto3_client, f"{unique}-lister",
                     [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}])
    other = session_clients(sandbox.endpoint, role)("s3")
    sandbox.client.clear_access()
    other.list_buckets()
    assert {e["principal"] for e in sandbox.client.access()} == {
        f"arn:aws:sts::123456789012:assumed-role/{unique}-lister/iam-test"}
    sandbox.client.clear_access()
    assert sandbox.client.access() == []
