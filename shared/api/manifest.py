"""Name, method and path of every route, importable without the API's dependencies.

The HTTP blueprint registers one function per entry at import time; the handlers (and SQLAlchemy behind
them) load on the first request, keeping the Functions cold start small. A test holds this table equal to
the routes `shared.api` registers.
"""

ROUTE_TABLE = {
    "health": ("GET", "health"),
    "usage": ("GET", "usage"),
    "usage_timeseries": ("GET", "usage/timeseries"),
    "ptu": ("GET", "ptu"),
    "requests": ("GET", "requests"),
    "request_detail": ("GET", "requests/{id}"),
    "deadletters": ("GET", "deadletters"),
    "deadletter_retry": ("POST", "deadletters/{id}/retry"),
    "openapi": ("GET", "openapi.json"),
    "docs": ("GET", "docs"),
    "dashboard": ("GET", "dashboard"),
    "quotas": ("GET", "quotas"),
    "quota_put": ("PUT", "quotas/{scopeType}/{scopeId}"),
    "quota_delete": ("DELETE", "quotas/{scopeType}/{scopeId}"),
    "alerts": ("GET", "alerts"),
    "audit_log": ("GET", "audit-log"),
    "user_text_erase": ("DELETE", "users/{id}/text"),
    "enduser_text_erase": ("DELETE", "endusers/{id}/text"),
}
