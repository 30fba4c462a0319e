"""HTTP triggers of the usage API: one function per route of `shared.api`, each a thin adapter."""

from urllib.parse import parse_qs, urlsplit

import azure.functions as func

from shared.api import ROUTES, handle
from shared.api.http import ApiRequest, ApiResponse
from shared.wiring import app_context

bp = func.Blueprint()


def _request(req: func.HttpRequest) -> ApiRequest:
    url = urlsplit(req.url)
    return ApiRequest(
        method=req.method,
        path=url.path,
        query=parse_qs(url.query, keep_blank_values=True),  # repeated parameters are rejected, not merged
        route_params=dict(req.route_params),
        headers=dict(req.headers),
        body=req.get_body() or b"",
    )


def _response(resp: ApiResponse) -> func.HttpResponse:
    return func.HttpResponse(body=resp.body, status_code=resp.status, mimetype=resp.content_type.split(";")[0],
                             charset="utf-8", headers=resp.headers)


def _register(name: str, method: str, path: str) -> None:
    def serve(req: func.HttpRequest) -> func.HttpResponse:
        return _response(handle(name, _request(req), app_context()))

    serve.__name__ = name
    bp.function_name(name)(bp.route(route=path, methods=[method], auth_level=func.AuthLevel.ANONYMOUS)(serve))


for _route in ROUTES.values():
    _register(_route.name, _route.method, _route.path)
