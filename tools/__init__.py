"""The development tools: outside the package Airflow runs (include/iepwatch), run by the Makefile."""
