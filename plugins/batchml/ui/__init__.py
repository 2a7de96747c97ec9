"""The project's Airflow UI pages (registered by ``plugins/batchml_plugin.py``)."""
