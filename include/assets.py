"""Assets that chain the domain DAGs: stores -> sales -> labor."""

from airflow.sdk import Asset

STORES = Asset("bw://warehouse/core/stores")
SALES = Asset("bw://warehouse/sales/channel_daily")
LABOR = Asset("bw://warehouse/labor/hours_daypart")
