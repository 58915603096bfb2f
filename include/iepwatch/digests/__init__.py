"""Coordinator digests: one email per coordinator per night, over the Airflow SMTP connection.

(Run alerts to the data team — a failed task, a night not finished by the morning — are
``iepwatch.alerts``.)
"""
