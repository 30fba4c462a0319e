"""Alert rules (quotas, anomalies), durable alert records and their delivery (mail, webhooks)."""
