"""Hourly call counts of the LLM operations in ApiManagementGatewayLogs (Log Analytics), for `reconcile`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any


def gateway_hourly_kql(operation_ids: Iterable[str]) -> str:
    """KQL counting the gateway's calls of the given operations per hour (ids compared case-insensitively)."""
    ids = ", ".join(f'"{op.lower()}"' for op in sorted(operation_ids))
    return (
        "ApiManagementGatewayLogs\n"
        f"| where tolower(OperationId) in ({ids})\n"
        "| summarize calls = count() by hour = bin(TimeGenerated, 1h)\n"
        "| order by hour asc"
    )


def query_gateway_hourly(
    workspace_id: str, operation_ids: Iterable[str], start: datetime, end: datetime, client_id: str | None = None
) -> list[dict[str, Any]]:
    """Rows {"hour": datetime, "calls": int} for [start, end), read with the app's managed identity."""
    from azure.identity import DefaultAzureCredential
    from azure.monitor.query import LogsQueryClient, LogsQueryStatus

    client = LogsQueryClient(DefaultAzureCredential(managed_identity_client_id=client_id))
    response = client.query_workspace(workspace_id, gateway_hourly_kql(operation_ids), timespan=(start, end))
    if response.status != LogsQueryStatus.SUCCESS:
        raise RuntimeError(f"Log Analytics query incomplete: {getattr(response, 'partial_error', None)}")
    table = response.tables[0]
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]
