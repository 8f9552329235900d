"""Airflow plugins folder: hooks for external systems."""
