"""The usage API in one import: every route family registered, and `handle`."""

from shared.api import (
    access_log_routes,  # noqa: F401
    alert_routes,  # noqa: F401
    dashboard_page,  # noqa: F401
    deadletter_routes,  # noqa: F401
    docs_page,  # noqa: F401
    erasure_routes,  # noqa: F401
    openapi_routes,  # noqa: F401
    ptu_routes,  # noqa: F401
    quota_routes,  # noqa: F401
    request_routes,  # noqa: F401
    timeseries_routes,  # noqa: F401
    usage_routes,  # noqa: F401  (registers its routes)
)
from shared.api.routes import ROUTES, Route, handle, handle_with

__all__ = ["ROUTES", "Route", "handle", "handle_with"]
