"""HTTP triggers of the usage API: one function per route of `shared.api`, each a thin adapter.

Only the route manifest is imported here; the API itself loads on the first request (cold start).
"""

from urllib.parse import parse_qs, urlsplit

import azure.functions as func

from shared.api.manifest import ROUTE_TABLE

bp = func.Blueprint()


def _serve(name: str, req: func.HttpRequest) -> func.HttpResponse:
    from shared.api.handler import handle_with
    from shared.api.http import ApiRequest
    from shared.app.wiring import app_context

    url = urlsplit(req.url)
    request = ApiRequest(
        method=req.method,
        path=url.path,
        query=parse_qs(url.query, keep_blank_values=True),  # repeated parameters are rejected, not merged
        route_params=dict(req.route_params),
        headers=dict(req.headers),
        body=req.get_body() or b"",
    )
    resp = handle_with(name, request, app_context)
    return func.HttpResponse(
        body=resp.body,
        status_code=resp.status,
        mimetype=resp.content_type.split(";")[0],
        charset="utf-8",
        headers=resp.headers,
    )


def _register(name: str, method: str, path: str) -> None:
    def serve(req: func.HttpRequest) -> func.HttpResponse:
        return _serve(name, req)

    serve.__name__ = name
    bp.function_name(name)(bp.route(route=path, methods=[method], auth_level=func.AuthLevel.ANONYMOUS)(serve))


for _name, (_method, _path) in ROUTE_TABLE.items():
    _register(_name, _method, _path)
