"""The route table of the usage API and the one entry point the HTTP triggers call.

Each route names its roles and parameters here; `handle` authenticates, authorises, validates and maps
errors to problem+json, so a handler only ever sees a known caller and parsed values.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from shared.api.auth import Authenticator, AuthError, Caller
from shared.api.http import ApiError, ApiRequest, ApiResponse, json_response, problem
from shared.api.params import Param, parse_params
from shared.app.settings import SettingsError
from shared.store.errors import store_message
from shared.store.sql import SqlStore, StoreBusy

if TYPE_CHECKING:  # the API's package stays cheap to import: the ingest use case loads only when a route needs it
    from shared.app.settings import Settings
    from shared.ingest.batch import Ingestor
    from shared.reports.ptu import PtuPlan
    from shared.reports.teams import Teams

logger = logging.getLogger(__name__)


class ApiContext(Protocol):
    """What handlers may use; `shared.app.wiring.AppContext` is the production one."""

    @property
    def authenticator(self) -> Authenticator: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> SqlStore: ...

    @property
    def ingestor(self) -> Ingestor: ...

    @property
    def teams(self) -> Teams | None: ...  # LEDGER_TEAMS_FILE, read when the context was built

    @property
    def ptu_plan(self) -> PtuPlan | None: ...  # LEDGER_PTU_FILE, read at start


Handler = Callable[[ApiContext, ApiRequest, Caller | None, dict[str, Any]], ApiResponse]


@dataclass(frozen=True)
class Route:
    name: str  # the Functions function name
    method: str
    path: str  # below /api, e.g. "requests/{id}"
    roles: tuple[str, ...] | None  # any of these; None: public
    params: tuple[Param, ...]
    handler: Handler
    summary: str
    responses: dict[str, Any]  # OpenAPI responses object for the success case(s)
    request_body: dict[str, Any] | None = None  # OpenAPI schema of a JSON body
    uses_store: bool = True  # False: served even while the store cannot be opened (the API's own documents)


ROUTES: dict[str, Route] = {}


def register(route: Route) -> Route:
    if route.name in ROUTES:
        raise ValueError(f"route {route.name} registered twice")
    ROUTES[route.name] = route
    return route


def handle(name: str, request: ApiRequest, context: ApiContext) -> ApiResponse:
    """Serve one request for the route called `name`."""
    route = ROUTES[name]
    try:
        caller = None
        if route.roles is not None:
            try:
                caller = context.authenticator.caller(request.headers)
            except AuthError as exc:
                raise ApiError(401, "Unauthorized", str(exc)) from None
            if not any(caller.has(role) for role in route.roles):
                raise ApiError(403, "Forbidden", f"this route needs one of the roles {', '.join(route.roles)}")
        values = parse_params(route.params, request.query, request.route_params)
        return route.handler(context, request, caller, values)
    except ApiError as exc:
        return problem(exc)
    except StoreBusy as exc:  # a lock held past the write's budget: nothing was written, the caller may retry
        retry_after = str(max(1, math.ceil(exc.waited)))
        return problem(
            ApiError(
                503, "Service Unavailable", f"{exc}; try again in {retry_after} s", headers={"Retry-After": retry_after}
            )
        )
    except Exception:  # the caller gets a problem document, the log gets the stack
        logger.exception("route %s failed", name)
        return problem(ApiError(500, "Internal Server Error", "the request failed; the error is in the app's log"))


def handle_with(name: str, request: ApiRequest, build_context: Callable[[], ApiContext]) -> ApiResponse:
    """`handle`, building the context first: a store that cannot be opened (down, refused, misconfigured) is a
    503 that says so, and the next request tries again; routes that need no store are served all the same."""
    try:
        context = build_context()
    except SettingsError as exc:  # a bad setting or settings file (LEDGER_PTU_FILE): no request can be served right
        logger.error("the app's settings are not valid: %s", exc)
        return problem(
            ApiError(503, "Service Unavailable", "the app's settings are not valid; the app's log says which and why")
        )
    except Exception as exc:  # noqa: BLE001 - the caller gets the reason's kind, the log gets the details
        logger.error("the app cannot open its store: %s", store_message(exc))  # one line a request, not a stack
        if not ROUTES[name].uses_store:
            return handle(name, request, _NO_STORE)
        return store_unavailable(name, exc)
    return handle(name, request, context)


def store_unavailable(name: str, error: BaseException) -> ApiResponse:
    """503 for a store that does not answer; the database's own words stay in the log (they name hosts)."""
    reason = f"unreachable: {type(error).__name__}; the app's log has the database's message"
    if name == "health":
        return json_response({"status": "unhealthy", "store": reason}, status=503)
    return problem(
        ApiError(503, "Service Unavailable", f"the store is {reason}; try again later", headers={"Retry-After": "30"})
    )


class _NoStore:
    """The context of a route that uses no store, while the real one cannot be built: such routes are anonymous
    and use nothing of it."""

    @property
    def authenticator(self) -> NoReturn:
        raise RuntimeError("this route declared uses_store=False")

    @property
    def settings(self) -> NoReturn:
        raise RuntimeError("this route declared uses_store=False")

    @property
    def store(self) -> NoReturn:
        raise RuntimeError("this route declared uses_store=False")

    @property
    def ingestor(self) -> NoReturn:
        raise RuntimeError("this route declared uses_store=False")

    @property
    def teams(self) -> NoReturn:
        raise RuntimeError("this route declared uses_store=False")

    @property
    def ptu_plan(self) -> NoReturn:
        raise RuntimeError("this route declared uses_store=False")


_NO_STORE = _NoStore()
