"""`LEDGER_AUTH=jwt` for real: a local RSA key, its JWKS and an OpenID configuration served on loopback."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.api.auth import accepted_issuers
from shared.api.handler import ROUTES, handle
from shared.api.http import ApiRequest
from tests.conftest import make_context

TENANT = "11111111-2222-3333-4444-555555555555"
AUDIENCE = "api://aoai-ledger"
V2_ISSUER = f"https://login.microsoftonline.com/{TENANT}/v2.0"
V1_ISSUER = f"https://sts.windows.net/{TENANT}/"


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


SIGNING_KEY, OTHER_KEY = _key(), _key()


@pytest.fixture(scope="module")
def identity_provider():
    """An Entra stand-in: the tenant's OpenID configuration and its JWKS over real HTTP, counting fetches."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(SIGNING_KEY.public_key()))
    jwk.update({"kid": "key-1", "use": "sig", "alg": "RS256"})
    fetches = {"config": 0, "keys": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args) -> None:
            pass

        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
                fetches["config"] += 1
                body = {"issuer": V2_ISSUER, "jwks_uri": f"{base}/{TENANT}/discovery/v2.0/keys"}
            elif self.path == f"/{TENANT}/discovery/v2.0/keys":
                fetches["keys"] += 1
                body = {"keys": [jwk]}
            else:
                self.send_error(404)
                return
            payload = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{TENANT}/v2.0/.well-known/openid-configuration", fetches
    server.shutdown()
    server.server_close()


@pytest.fixture
def api(store, identity_provider):
    url, _ = identity_provider
    return make_context(
        store,
        LEDGER_AUTH="jwt",
        LEDGER_JWT_TENANT_ID=TENANT,
        LEDGER_JWT_AUDIENCE=AUDIENCE,
        LEDGER_JWT_OPENID_CONFIG_URL=url,
    )


def token(*, key=SIGNING_KEY, kid: str = "key-1", **claims) -> str:
    now = int(time.time())
    body = {
        "iss": V2_ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "oid": "oid-ana",
        "tid": TENANT,
        "roles": ["Usage.ReadAll"],
        **claims,
    }
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm="RS256", headers={"kid": kid})


def get(context, name: str = "usage", bearer: str | None = None):
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return handle(name, ApiRequest("GET", f"/api/{ROUTES[name].path}", {}, {}, headers), context)


def _detail(response) -> str:
    return json.loads(response.body)["detail"]


def test_a_valid_v2_token_with_the_role_is_served(api):
    assert get(api, bearer=token()).status == 200


def test_a_v1_token_of_the_same_tenant_is_served_too(api):
    assert get(api, bearer=token(iss=V1_ISSUER)).status == 200


@pytest.mark.parametrize(
    "claims, words",
    [
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"aud": "api://someone-else"}, "audience"),
        ({"iss": "https://login.microsoftonline.com/99999999-0000-0000-0000-000000000000/v2.0"}, "issuer"),
        ({"iss": "https://sts.windows.net/99999999-0000-0000-0000-000000000000/"}, "issuer"),
        ({"exp": None}, "exp"),
    ],
)
def test_tokens_with_bad_claims_are_401(api, claims, words):
    response = get(api, bearer=token(**claims))
    assert response.status == 401 and words in _detail(response).lower()
    assert response.headers.get("WWW-Authenticate") == "Bearer"


def test_a_token_signed_with_another_key_is_401(api):
    assert get(api, bearer=token(key=OTHER_KEY)).status == 401
    assert get(api, bearer=token(key=OTHER_KEY, kid="unknown-key")).status == 401


def test_a_token_without_roles_is_403_and_without_a_bearer_401(api):
    assert get(api, bearer=token(roles=None)).status == 403
    assert get(api, bearer=token(roles=["Audit.Read"])).status == 403
    assert get(api).status == 401
    assert get(api, bearer="not.a.jwt").status == 401


def test_usage_read_token_is_limited_to_its_oid(api):
    body = json.loads(get(api, "requests", bearer=token(roles=["Usage.Read"], oid="oid-nobody")).body)
    assert body == {"items": [], "nextCursor": None}


def test_openid_configuration_and_keys_are_fetched_once_and_cached(store, identity_provider):
    url, fetches = identity_provider
    context = make_context(
        store,
        LEDGER_AUTH="jwt",
        LEDGER_JWT_TENANT_ID=TENANT,
        LEDGER_JWT_AUDIENCE=AUDIENCE,
        LEDGER_JWT_OPENID_CONFIG_URL=url,
    )
    before = dict(fetches)
    for _ in range(5):
        assert get(context, bearer=token()).status == 200
    assert fetches["config"] - before["config"] == 1 and fetches["keys"] - before["keys"] == 1


def test_an_unreachable_identity_provider_is_401_not_500(store):
    context = make_context(
        store,
        LEDGER_AUTH="jwt",
        LEDGER_JWT_TENANT_ID=TENANT,
        LEDGER_JWT_AUDIENCE=AUDIENCE,
        LEDGER_JWT_OPENID_CONFIG_URL="http://127.0.0.1:9/nothing",
    )
    response = get(context, bearer=token())
    assert response.status == 401 and "unreachable" in _detail(response)


def test_accepted_issuers_are_both_entra_forms_of_the_tenant_only():
    assert accepted_issuers(V2_ISSUER) == [V2_ISSUER, V1_ISSUER]
    assert accepted_issuers("https://login.microsoftonline.com/{tenantid}/v2.0") == [
        "https://login.microsoftonline.com/{tenantid}/v2.0"
    ]
    assert accepted_issuers("http://127.0.0.1/x", TENANT) == ["http://127.0.0.1/x", V2_ISSUER, V1_ISSUER]


@pytest.mark.parametrize(
    "claims, named",
    [
        ({"roles": {"Ledger.Admin": True}}, "roles"),
        ({"roles": 7}, "roles"),
        ({"roles": True}, "roles"),
        ({"roles": ["Usage.ReadAll", {"nested": "Ledger.Admin"}]}, "roles"),
        ({"oid": ["oid-ana"]}, "oid"),
        ({"preferred_username": {"a": 1}}, "preferred_username"),
    ],
)
def test_a_signed_token_whose_roles_or_ids_are_not_strings_is_a_401_problem_not_a_500(api, claims, named):
    response = get(api, bearer=token(**claims))
    assert response.status == 401 and response.content_type == "application/problem+json"
    assert f"{named} claim must be a" in _detail(response)


def test_a_single_role_as_a_string_is_read_as_that_role(api):
    assert get(api, bearer=token(roles="Usage.ReadAll")).status == 200
