"""What reaches pyodbc.connect for Azure SQL: the connection string SQLAlchemy builds, after the engine's hook.

The engine is the app's own (create_store_engine) over the real mssql+pyodbc dialect and the real pyodbc
module; the only stand-in is the Entra credential, at the Azure boundary. A last do_connect hook stops the
connect just before the ODBC driver would be called and hands back the arguments it would have received.
"""

from __future__ import annotations

import struct
import time

import pytest
from azure.core.credentials import AccessToken
from sqlalchemy import event
from sqlalchemy.engine import make_url

from shared.adapters.entra import SQL_SCOPE, cached_token_provider
from shared.store.engine import create_store_engine

# The shape infra/modules/functions.bicep gives LEDGER_SQL_URL: no user, so no password.
AZURE_SQL_URL = "mssql+pyodbc://@sql-ledger.database.windows.net/ledger?driver=ODBC+Driver+18+for+SQL+Server"
SQL_COPT_SS_ACCESS_TOKEN = 1256  # msodbcsql.h


class EntraCredential:
    """azure.core's TokenCredential protocol, answering without a network; counts what it was asked."""

    def __init__(self, *tokens: tuple[str, int]) -> None:
        self._tokens = list(tokens)
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **_options) -> AccessToken:
        self.scopes.append(scopes)
        token, lifetime = self._tokens.pop(0)
        return AccessToken(token, int(time.time()) + lifetime)


class DriverCall(Exception):
    def __init__(self, cargs: list, cparams: dict) -> None:
        super().__init__("stopped before pyodbc.connect")
        self.connection_string: str = cargs[0]
        self.attrs_before: dict = cparams.get("attrs_before", {})


def _driver_call(engine) -> DriverCall:
    """Open a connection through the pool; return what pyodbc.connect would have been called with."""

    @event.listens_for(engine, "do_connect")
    def _stop(_dialect, _record, cargs, cparams):
        raise DriverCall(list(cargs), dict(cparams))

    with pytest.raises(DriverCall) as stopped:
        engine.connect()
    event.remove(engine, "do_connect", _stop)
    return stopped.value


def _docs_token_struct(token: str) -> bytes:
    """The token as SQLAlchemy's "Connecting to databases with access tokens" packs it."""
    raw = token.encode("utf-16-le")
    return struct.pack(f"<I{len(raw)}s", len(raw), raw)


@pytest.fixture
def credential() -> EntraCredential:
    return EntraCredential(("eyJ0eXAi.first-token", 3600), ("eyJ0eXAi.second-token", 3600))


def test_sqlalchemy_itself_asks_for_windows_sign_in_on_a_url_without_a_user():
    engine = create_store_engine(AZURE_SQL_URL, token_provider=lambda: "unused")
    (connection_string,), _ = engine.dialect.create_connect_args(make_url(AZURE_SQL_URL))
    assert connection_string.endswith(";Trusted_Connection=Yes")  # what the hook has to take out


def test_azure_sql_connection_carries_the_entra_token_and_no_other_sign_in(credential):
    engine = create_store_engine(AZURE_SQL_URL, token_provider=cached_token_provider(credential, SQL_SCOPE))
    call = _driver_call(engine)

    attributes = {part.split("=", 1)[0].strip().lower() for part in call.connection_string.split(";")}
    assert not attributes & {"trusted_connection", "uid", "pwd", "authentication"}, call.connection_string
    assert call.connection_string == (
        "DRIVER={ODBC Driver 18 for SQL Server};Server=sql-ledger.database.windows.net;Database=ledger"
    )
    assert call.attrs_before == {SQL_COPT_SS_ACCESS_TOKEN: _docs_token_struct("eyJ0eXAi.first-token")}
    assert credential.scopes == [("https://database.windows.net/.default",)]


def test_token_struct_is_a_little_endian_length_then_utf16_bytes(credential):
    engine = create_store_engine(AZURE_SQL_URL, token_provider=cached_token_provider(credential, SQL_SCOPE))
    packed = _driver_call(engine).attrs_before[SQL_COPT_SS_ACCESS_TOKEN]
    (length,) = struct.unpack_from("<I", packed)
    assert length == len(packed) - 4
    assert packed[4:].decode("utf-16-le") == "eyJ0eXAi.first-token"


def test_every_new_connection_gets_a_token_and_an_expiring_one_is_renewed():
    credential = EntraCredential(("token-about-to-expire", 60), ("fresh-token", 3600))
    engine = create_store_engine(AZURE_SQL_URL, token_provider=cached_token_provider(credential, SQL_SCOPE))
    first, second = _driver_call(engine), _driver_call(engine)
    assert first.attrs_before[SQL_COPT_SS_ACCESS_TOKEN] == _docs_token_struct("token-about-to-expire")
    assert second.attrs_before[SQL_COPT_SS_ACCESS_TOKEN] == _docs_token_struct("fresh-token")
    assert "Trusted_Connection" not in second.connection_string


def test_an_options_string_keeps_everything_but_the_sign_in():
    url = AZURE_SQL_URL + "&Encrypt=yes&TrustServerCertificate=no"
    engine = create_store_engine(url, token_provider=lambda: "token")
    assert _driver_call(engine).connection_string == (
        "DRIVER={ODBC Driver 18 for SQL Server};Server=sql-ledger.database.windows.net;Database=ledger;"
        "Encrypt=yes;TrustServerCertificate=no"
    )


@pytest.mark.parametrize(
    "url",
    [
        "mssql+pyodbc://ledger:secret@sql-ledger.database.windows.net/ledger?driver=ODBC+Driver+18+for+SQL+Server",
        AZURE_SQL_URL + "&authentication=ActiveDirectoryMsi",
    ],
)
def test_a_url_with_its_own_sign_in_is_refused_with_the_url_to_use(url):
    with pytest.raises(ValueError, match=r"mssql\+pyodbc://@<server>"):
        create_store_engine(url, token_provider=lambda: "token")
