"""The usage API in one import: every route family registered, and `handle`."""

from shared.api import usage_routes  # noqa: F401  (registers its routes)
from shared.api import timeseries_routes  # noqa: F401
from shared.api import request_routes  # noqa: F401
from shared.api import deadletter_routes  # noqa: F401
from shared.api import openapi_routes  # noqa: F401
from shared.api import quota_routes  # noqa: F401
from shared.api import alert_routes  # noqa: F401
from shared.api import access_log_routes  # noqa: F401
from shared.api import docs_page  # noqa: F401
from shared.api import erasure_routes  # noqa: F401
from shared.api.routes import ROUTES, Route, handle, handle_with

__all__ = ["ROUTES", "Route", "handle", "handle_with"]
