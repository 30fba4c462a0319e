"""Imports every module that adds tables to `schema.metadata`, so `create_all` and the T-SQL see them all."""

from shared.store import (
    display_names,  # noqa: F401  (display_names)
    schema_alerts,  # noqa: F401  (quotas, quota_crossings, alerts, alert_channels, alert_posts)
    schema_privacy,  # noqa: F401  (access_log)
    schema_ptu,  # noqa: F401  (usage_day_changes, ptu_days, ptu_day_shares)
)
