"""Many districts: the deployment file, their DAGs and pools, the roll-up, the Airflow settings."""
