"""Who is calling the usage API, and with which roles.

Three modes (`LEDGER_AUTH`): `easyauth` trusts App Service Authentication's `X-MS-CLIENT-PRINCIPAL` only
where the platform says Easy Auth is on (or a setting vouches for another front door); `jwt` validates Entra
bearer tokens itself; `dev` makes every caller an admin and is refused anywhere but loopback.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.app.settings import Settings

if TYPE_CHECKING:
    import jwt

logger = logging.getLogger(__name__)

USAGE_READ, USAGE_READ_ALL, AUDIT_READ, LEDGER_ADMIN = "Usage.Read", "Usage.ReadAll", "Audit.Read", "Ledger.Admin"
ALL_ROLES = frozenset({USAGE_READ, USAGE_READ_ALL, AUDIT_READ, LEDGER_ADMIN})
_OID_CLAIMS = ("oid", "http://schemas.microsoft.com/identity/claims/objectidentifier")
_ROLE_CLAIMS = ("roles", "role", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
_NAME_CLAIMS = ("preferred_username", "upn", "name", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn")
_V2_ISSUER = re.compile(r"^https://login\.microsoftonline\.com/([0-9A-Za-z.-]+)/v2\.0/?$")


_LOOPBACK_HOST = re.compile(r"(localhost|127\.0\.0\.1|\[::1\])(?::([0-9]{1,5}))?")


class AuthError(Exception):
    """No usable identity: the API answers 401 with this message as the problem's detail."""


def addresses_loopback(host_header: str, port: int | None = None) -> bool:
    """Whether a Host header names this machine by a loopback name (and `port`, when given; none means 80).

    Dev mode trusts every caller, so it must answer only requests meant for the local machine: a web page whose
    own domain was re-pointed at 127.0.0.1 (DNS rebinding) reaches the port, but its requests carry its Host.
    """
    found = _LOOPBACK_HOST.fullmatch(host_header.strip().lower())
    return found is not None and (port is None or int(found.group(2) or 80) == port)


@dataclass(frozen=True)
class Caller:
    user_id: str | None
    name: str | None
    roles: frozenset[str]

    def has(self, role: str) -> bool:
        # Ledger.Admin can do everything; Usage.ReadAll includes Usage.Read.
        if LEDGER_ADMIN in self.roles or role in self.roles:
            return True
        return role == USAGE_READ and USAGE_READ_ALL in self.roles

    @property
    def sees_all_usage(self) -> bool:
        return self.has(USAGE_READ_ALL)


DEV_CALLER = Caller(user_id="dev", name="developer (LEDGER_AUTH=dev)", roles=ALL_ROLES)


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwt = JwtValidator(settings) if settings.auth_mode == "jwt" else None

    def caller(self, headers: Mapping[str, str]) -> Caller:
        """The caller of one request; raises AuthError when there is none we can trust."""
        lowered = {k.lower(): v for k, v in headers.items()}
        mode = self.settings.auth_mode
        if mode == "dev":
            host = lowered.get("host")
            if host is not None and not addresses_loopback(host):
                raise AuthError(
                    f"LEDGER_AUTH=dev answers only requests addressed to localhost, 127.0.0.1 or [::1], "
                    f"not {host[:80]!r}"
                )
            return DEV_CALLER
        if mode == "easyauth":
            return self._easyauth(lowered)
        authorization = lowered.get("authorization", "")
        if not authorization.lower().startswith("bearer "):
            raise AuthError("a bearer token is required (Authorization: Bearer <Entra access token>)")
        assert self._jwt is not None
        return self._jwt.caller(authorization[7:].strip())

    def _easyauth(self, headers: Mapping[str, str]) -> Caller:
        if not (self.settings.website_auth_enabled or self.settings.easyauth_trusted):
            raise AuthError(
                "X-MS-CLIENT-PRINCIPAL is not trusted here: App Service Authentication is off "
                "(WEBSITE_AUTH_ENABLED) and LEDGER_EASYAUTH_TRUSTED is not set; on your own machine, start the local "
                "host with LEDGER_AUTH=dev (loopback only) to call it without a token"
            )
        encoded = headers.get("x-ms-client-principal")
        if not encoded:
            raise AuthError("no X-MS-CLIENT-PRINCIPAL header: sign in through App Service Authentication")
        try:
            principal = json.loads(base64.b64decode(encoded + "=" * (-len(encoded) % 4)))
            claims = principal.get("claims") or []
            role_type = principal.get("role_typ")
        except (ValueError, AttributeError):
            raise AuthError("X-MS-CLIENT-PRINCIPAL is not base64 JSON") from None
        if not isinstance(claims, list) or not (role_type is None or isinstance(role_type, str)):
            raise AuthError("X-MS-CLIENT-PRINCIPAL must carry `claims` as a list and `role_typ` as a string")
        values: dict[str, list[str]] = {}
        for claim in claims:
            if isinstance(claim, dict) and "typ" in claim and "val" in claim:
                values.setdefault(str(claim["typ"]), []).append(str(claim["val"]))
        roles = {role for name in (*_ROLE_CLAIMS, role_type) if name for role in values.get(name, [])}
        user_id = next((values[name][0] for name in _OID_CLAIMS if name in values), None)
        name = next((values[name][0] for name in _NAME_CLAIMS if name in values), None)
        return Caller(user_id=user_id, name=name, roles=frozenset(roles))


def accepted_issuers(config_issuer: str, tenant: str = "") -> list[str]:
    """The OpenID configuration's issuer, plus both Entra issuer forms of the tenant.

    Which one a token carries depends on the API's `accessTokenAcceptedVersion` (v1:
    `https://sts.windows.net/{tid}/`, v2: `https://login.microsoftonline.com/{tid}/v2.0`), not on the caller,
    so a tenant's API must accept both; tokens of any other tenant are still refused.
    """
    found = _V2_ISSUER.match(config_issuer)
    tenant = tenant or (found.group(1) if found else "")
    issuers = [config_issuer]
    if tenant and tenant not in ("common", "organizations", "consumers", "{tenantid}"):
        issuers += [f"https://login.microsoftonline.com/{tenant}/v2.0", f"https://sts.windows.net/{tenant}/"]
    return list(dict.fromkeys(issuers))


class JwtValidator:
    """Entra access tokens: signature from the tenant's JWKS, issuer and audience from settings (cached)."""

    _CACHE_SECONDS = 3600

    def __init__(self, settings: Settings) -> None:
        self.audience = settings.jwt_audience
        self.tenant = tenant = settings.jwt_tenant_id
        self.config_url = settings.jwt_openid_config_url or (
            f"https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration"
        )
        self._lock = threading.Lock()
        self._config: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._jwks: jwt.PyJWKClient | None = None

    def _openid_config(self) -> dict[str, Any]:
        import jwt  # PyJWT and its crypto backend load only where tokens are validated

        with self._lock:
            if self._config is None or time.monotonic() - self._fetched_at > self._CACHE_SECONDS:
                with urllib.request.urlopen(self.config_url, timeout=10) as response:  # noqa: S310 - https or loopback by config
                    self._config = json.loads(response.read())
                self._fetched_at = time.monotonic()
                self._jwks = jwt.PyJWKClient(self._config["jwks_uri"], cache_keys=True, lifespan=self._CACHE_SECONDS)
            return self._config

    def caller(self, token: str) -> Caller:
        import jwt

        try:
            config = self._openid_config()
            assert self._jwks is not None
            key = self._jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.audience,
                issuer=accepted_issuers(config["issuer"], self.tenant),
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"bearer token rejected: {exc}") from None
        except OSError as exc:
            logger.error("cannot reach the OpenID configuration %s: %s", self.config_url, exc)
            raise AuthError("bearer token could not be validated: the identity provider is unreachable") from None
        return Caller(
            user_id=_text_claim(claims, "oid") or _text_claim(claims, "sub"),
            name=next(
                filter(None, (_text_claim(claims, name) for name in ("preferred_username", "upn", "name", "appid"))),
                None,
            ),
            roles=frozenset(_roles_claim(claims.get("roles"), "the bearer token's roles claim")),
        )


def _text_claim(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None or isinstance(value, str):
        return value or None
    raise AuthError(f"the bearer token's {name} claim must be a string, got {type(value).__name__}")


def _roles_claim(value: Any, what: str) -> list[str]:
    """Roles as Entra sends them (a list of strings), or one role as a string; anything else is refused, not
    guessed at: a token shaped unlike Entra's was not made by Entra for this API."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(role, str) for role in value):
        return value
    raise AuthError(f"{what} must be a list of strings or a string, got {type(value).__name__}")
