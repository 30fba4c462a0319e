"""Read models: usage totals and timeseries, the request audit, dead letters, the demo's reports."""
