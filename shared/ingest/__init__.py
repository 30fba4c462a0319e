"""Ingest: raw events -> priced canonical records (formats, payloads, pricing, claim checks, the batch use case)."""
