"""Coordinator emails: one digest per coordinator per night, sent once, over the Airflow SMTP connection."""
