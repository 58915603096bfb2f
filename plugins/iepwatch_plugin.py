"""Airflow 3 plugin: the iepwatch page (FastAPI app at /iepwatch: the district's, or a deployment's
with each district's below it), its menu entry, the run-note listener."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from iepwatch.ui import listeners
from iepwatch.ui.page import plugin_app


class IepwatchPlugin(AirflowPlugin):
    name = "iepwatch"
    fastapi_apps = [{"app": plugin_app(), "url_prefix": "/iepwatch", "name": "IEP compliance"}]
    external_views = [{"name": "IEP compliance", "href": "/iepwatch/", "destination": "nav",
                       "category": "browse", "url_route": "iepwatch"}]
    listeners = [listeners]   # each nightly run's note: its as-of date
