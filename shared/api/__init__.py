"""The usage API: routes, parameters and handlers, independent of the Functions host."""

from . import usage_routes  # noqa: F401  (registers its routes)
from . import timeseries_routes  # noqa: F401
from . import request_routes  # noqa: F401
from . import deadletter_routes  # noqa: F401
from . import openapi_routes  # noqa: F401
from . import quota_routes  # noqa: F401
from . import alert_routes  # noqa: F401
from .routes import ROUTES, Route, handle

__all__ = ["ROUTES", "Route", "handle"]
