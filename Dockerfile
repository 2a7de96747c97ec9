# The official Airflow 3.3.2 image, plus this repository's pinned requirements.
# Built by docker-compose.yaml (not built on this project's machines, which have no Docker engine).
FROM apache/airflow:3.3.2-python3.11

# Pinning apache-airflow in the same install stops pip from changing Airflow itself; the constraints
# file pins everything else to the set the test suite runs against.
COPY --chown=airflow:0 requirements.txt requirements-dev.txt constraints.txt /opt/airflow/requirements/
RUN pip install --no-cache-dir "apache-airflow==3.3.2" \
        -r /opt/airflow/requirements/requirements-dev.txt \
        -c /opt/airflow/requirements/constraints.txt

# The sandbox package is part of the image so the `sandbox` service can run it; the DAGs, plugins and
# include/ files are mounted by docker-compose.yaml so edits apply without a rebuild.
COPY --chown=airflow:0 sandbox /opt/airflow/sandbox
# `python -m sandbox seed` deploys the CloudFormation template a real account is deployed with.
COPY --chown=airflow:0 infra /opt/airflow/infra
ENV PYTHONPATH=/opt/airflow
