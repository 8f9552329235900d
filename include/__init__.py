"""BW Store Analytics: business logic shared by the DAGs (importable without Airflow)."""
