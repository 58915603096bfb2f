"""The data team's page in the Airflow UI, what it shows, and the nightly run's note."""
