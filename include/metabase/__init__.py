"""Metabase: provisioning, dashboards from templates, permission sync and drift audit."""
