"""Every app setting aoai-ledger reads, in one table, read once from the environment.

The same names appear in `local.settings.sample.json`, the Bicep app settings and the README; a test keeps
the four in step, so add a setting here first and the test tells you where else it belongs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_SQLITE_URL = "sqlite:///.ledger/ledger.db"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the setting and what it should look like."""


@dataclass(frozen=True)
class SettingSpec:
    name: str
    default: str
    meaning: str


# Settings read by the Functions host itself (bindings, identity) are listed too: they must be configured in
# the same places even though only the host reads some of them.
SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "EVENTHUB__fullyQualifiedNamespace",
        "",
        "Event Hubs namespace host (identity-based trigger connection), e.g. `ehns-ledger.servicebus.windows.net`",
    ),
    SettingSpec("EVENTHUB_NAME", "aoai-capture", "hub that receives the APIM capture/v1 events"),
    SettingSpec("EVENTHUB_CONSUMER_GROUP", "ledger", "consumer group the ingest trigger reads with"),
    SettingSpec(
        "EVENTHUB_MONITOR_NAME",
        "apim-diagnostics",
        "hub that receives APIM diagnostic settings (GatewayLogs, GatewayLlmLogs)",
    ),
    SettingSpec(
        "LEDGER_SQL_URL",
        DEFAULT_SQLITE_URL,
        "SQLAlchemy URL of the store: a SQLite file, `mssql+pyodbc://@server.database.windows.net/db` (Entra token, no password) or PostgreSQL",
    ),
    SettingSpec("LEDGER_STORE_TEXT", "true", "keep prompt/completion text and raw bodies (`false` keeps numbers only)"),
    SettingSpec(
        "LEDGER_REDACT",
        "secrets",
        "what is masked before storage: `secrets` (keys, tokens, passwords), `pii` (also e-mail addresses, phone numbers, card numbers, IBANs, IP addresses in text) or `off`",
    ),
    SettingSpec(
        "LEDGER_TEXT_RETENTION_DAYS",
        "90",
        "days prompt/completion text, parameters and raw bodies are kept (the numbers stay); `0` keeps text forever",
    ),
    SettingSpec(
        "LEDGER_DEADLETTER_RETENTION_DAYS",
        "30",
        "days a resolved dead letter keeps its raw bytes (the reason and status stay); `0` keeps them forever",
    ),
    SettingSpec(
        "LEDGER_PRICES_FILE", "", "optional JSON file of negotiated/PTU/regional prices that override list prices"
    ),
    SettingSpec(
        "LEDGER_KUSTO_INGEST_URI",
        "",
        "optional Azure Data Explorer ingestion URI; records are also sent there when set",
    ),
    SettingSpec("LEDGER_KUSTO_DATABASE", "", "Azure Data Explorer database for the optional Kusto store"),
    SettingSpec(
        "LEDGER_BODY_STORAGE_URL",
        "",
        "blob endpoint holding claim-checked bodies (`bodyRef`), read with managed identity",
    ),
    SettingSpec(
        "LEDGER_BODY_STORAGE_CONNECTION_STRING",
        "",
        "connection string for claim-checked bodies (local development, Azurite)",
    ),
    SettingSpec(
        "LEDGER_BODY_WAIT_SECONDS",
        "900",
        "how long a call waits for a claim-checked body before it is recorded without it, flagged",
    ),
    SettingSpec(
        "LEDGER_HOURLY_SUMS_DAYS",
        "35",
        "days of hour-level cumulative sums kept for the edges of usage reports (older edges read the hourly rollup, slower); `0` keeps them all",
    ),
    SettingSpec(
        "LEDGER_MONITOR_JOIN_SECONDS",
        "300",
        "how long Azure Monitor records of one call wait for their missing pieces before the call is recorded",
    ),
    SettingSpec(
        "LEDGER_API_WRITE_WAIT_SECONDS",
        "5",
        "how long a write through the usage API (quota PUT/DELETE) waits for a store lock before answering 503 with `Retry-After`",
    ),
    SettingSpec(
        "LEDGER_AUTH", "easyauth", "identity mode of the usage API: `easyauth`, `jwt` or `dev` (loopback only)"
    ),
    SettingSpec(
        "LEDGER_EASYAUTH_TRUSTED",
        "false",
        "trust `X-MS-CLIENT-PRINCIPAL` even where `WEBSITE_AUTH_ENABLED` is not set (another front door validates it)",
    ),
    SettingSpec("LEDGER_JWT_TENANT_ID", "", "Entra tenant whose tokens `LEDGER_AUTH=jwt` accepts"),
    SettingSpec(
        "LEDGER_JWT_AUDIENCE", "", "expected `aud` of bearer tokens (the API's application ID URI or client id)"
    ),
    SettingSpec(
        "LEDGER_JWT_OPENID_CONFIG_URL",
        "",
        "override of the OpenID configuration URL (default: the tenant's v2.0 endpoint)",
    ),
    SettingSpec("LEDGER_PUBLIC_URL", "http://127.0.0.1:7071", "base URL of the usage API, used in alert email links"),
    SettingSpec("LEDGER_QUOTAS_FILE", "", "optional JSON file of quotas applied at start (infrastructure as code)"),
    SettingSpec("LEDGER_TEAMS_FILE", "", "optional JSON file of teams and cost centres (`groupBy=team`, team quotas)"),
    SettingSpec(
        "LEDGER_PTU_FILE",
        "",
        "optional JSON file of provisioned (PTU) deployments: their calls cost nothing per token, and each provisioned hour's price is shared among that hour's calls by tokens",
    ),
    SettingSpec("LEDGER_TIMEZONE", "UTC", "time zone of calendar quota periods (IANA name)"),
    SettingSpec("QUOTA_CHECK_SCHEDULE", "0 */5 * * * *", "NCRONTAB schedule of the `quota_check` timer"),
    SettingSpec("ANOMALY_SCAN_SCHEDULE", "0 */15 * * * *", "NCRONTAB schedule of the `anomaly_scan` timer"),
    SettingSpec("RECONCILE_SCHEDULE", "0 15 * * * *", "NCRONTAB schedule of the `reconcile` timer"),
    SettingSpec(
        "PTU_REFRESH_SCHEDULE",
        "0 20 * * * *",
        "NCRONTAB schedule of the `ptu_refresh` timer (builds closed days of the PTU read model; reports compute the rest live)",
    ),
    SettingSpec(
        "CHARGEBACK_REPORT_SCHEDULE",
        "0 0 6 * * *",
        "NCRONTAB schedule of the `chargeback_report` timer (daily: it sends last month's report once, catching up a missed 1st)",
    ),
    SettingSpec(
        "RETENTION_PURGE_SCHEDULE",
        "0 30 2 * * *",
        "NCRONTAB schedule of the `retention_purge` timer (text and dead-letter retention)",
    ),
    SettingSpec(
        "PENDING_SWEEP_SCHEDULE",
        "0 */1 * * * *",
        "NCRONTAB schedule of the `pending_sweep` timer (claim checks, unmatched parts)",
    ),
    SettingSpec("LEDGER_ANOMALY_SPIKE_FACTOR", "6", "a spike is usage above median + this many MADs of the baseline"),
    SettingSpec("LEDGER_ANOMALY_MIN_TOKENS", "20000", "hourly tokens below which no spike is reported"),
    SettingSpec(
        "LEDGER_ANOMALY_ERROR_RATE", "0.25", "share of failed calls (errors, 429s) in an hour that counts as a burst"
    ),
    SettingSpec(
        "LEDGER_ANOMALY_FILTER_HITS", "5", "content-filter hits in an hour for one caller that count as a burst"
    ),
    SettingSpec("LEDGER_EMAIL_MODE", "outbox", "how alerts are sent: `acs`, `smtp`, `outbox` (.eml files) or `off`"),
    SettingSpec(
        "LEDGER_ACS_ENDPOINT",
        "",
        "Azure Communication Services endpoint for `LEDGER_EMAIL_MODE=acs` (managed identity)",
    ),
    SettingSpec("LEDGER_SMTP_HOST", "", "SMTP relay for `LEDGER_EMAIL_MODE=smtp`"),
    SettingSpec("LEDGER_SMTP_PORT", "587", "SMTP port"),
    SettingSpec("LEDGER_SMTP_STARTTLS", "true", "upgrade the SMTP connection with STARTTLS"),
    SettingSpec("LEDGER_SMTP_USERNAME", "", "SMTP login (optional)"),
    SettingSpec("LEDGER_SMTP_PASSWORD", "", "SMTP password (optional; a Key Vault reference in Azure)"),
    SettingSpec("LEDGER_OUTBOX_DIR", ".ledger/outbox", "folder of .eml files for `LEDGER_EMAIL_MODE=outbox`"),
    SettingSpec("LEDGER_ALERT_FROM", "aoai-ledger@localhost", "sender address of alert emails"),
    SettingSpec("LEDGER_ALERT_TO", "", "admins copied on every alert (comma-separated)"),
    SettingSpec(
        "LEDGER_ALERT_WEBHOOKS",
        "",
        "chat webhooks every alert is also posted to, comma-separated `teams:<url>` (a Teams workflow), `slack:<url>` or `json:<url>`; the URLs are secrets (a Key Vault reference in Azure)",
    ),
    SettingSpec("LEDGER_DAILY_DIGEST", "false", "send admins a daily usage digest"),
    SettingSpec(
        "LEDGER_REPORT_TO",
        "",
        "recipients of the monthly chargeback report (comma-separated; empty: no report)",
    ),
    SettingSpec(
        "LEDGER_LOG_ANALYTICS_WORKSPACE_ID", "", "Log Analytics workspace for the `reconcile` timer; empty skips it"
    ),
    SettingSpec("AZURE_CLIENT_ID", "", "client id of the user-assigned managed identity used for every Azure call"),
)

# Read by the platform or by azure-identity, never set by us; the settings consistency test skips these.
PLATFORM_SETTINGS = ("WEBSITE_AUTH_ENABLED", "AzureWebJobsStorage", "FUNCTIONS_WORKER_RUNTIME")
# Set by App Service on every instance it runs (https://github.com/projectkudu/kudu/wiki/Azure-runtime-environment):
# where either is present, the app is not on a developer's loopback.
AZURE_HOSTED = ("WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME")

_DEFAULTS = {spec.name: spec.default for spec in SETTINGS}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _number(name: str, raw: str, kind: type = int, minimum: float = 0) -> float:
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a {kind.__name__}, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def _choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    value = raw.strip().lower()
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return value


WEBHOOK_KINDS = ("teams", "slack", "json")
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def _webhooks(raw: str) -> tuple[tuple[str, str], ...]:
    """`kind:url` entries; errors name the entry by position, never its URL (a webhook URL is a credential)."""
    found = []
    for position, entry in enumerate((part.strip() for part in raw.split(",")), 1):
        if not entry:
            continue
        kind, _, url = entry.partition(":")
        kind = kind.strip().lower()
        if kind not in WEBHOOK_KINDS:
            raise SettingsError(
                f"LEDGER_ALERT_WEBHOOKS entry {position} must start with one of "
                f"{', '.join(k + ':' for k in WEBHOOK_KINDS)} followed by the URL"
            )
        url = url.strip()
        host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0] if "://" in url else ""
        if not (url.startswith("https://") or (url.startswith("http://") and host in _LOOPBACK_HOSTS)) or not host:
            raise SettingsError(
                f"LEDGER_ALERT_WEBHOOKS entry {position} ({kind}) must be an https:// URL "
                "(http:// only on loopback, for tests)"
            )
        found.append((kind, url))
    return tuple(found)


def _emails(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.replace(";", ",").split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    sql_url: str
    store_text: bool
    redact: str
    text_retention_days: int  # 0: keep forever
    deadletter_retention_days: int  # 0: keep forever
    prices_file: Path | None
    kusto_ingest_uri: str
    kusto_database: str
    body_storage_url: str
    body_storage_connection_string: str
    body_wait_seconds: int
    monitor_join_seconds: int
    hourly_sums_days: int  # 0: keep all
    api_write_wait_seconds: float
    auth_mode: str
    easyauth_trusted: bool
    website_auth_enabled: bool
    jwt_tenant_id: str
    jwt_audience: str
    jwt_openid_config_url: str
    public_url: str
    quotas_file: Path | None
    teams_file: Path | None
    ptu_file: Path | None
    timezone: ZoneInfo
    anomaly_spike_factor: float
    anomaly_min_tokens: int
    anomaly_error_rate: float
    anomaly_filter_hits: int
    email_mode: str
    acs_endpoint: str
    smtp_host: str
    smtp_port: int
    smtp_starttls: bool
    smtp_username: str
    smtp_password: str = field(repr=False)
    outbox_dir: Path = Path(".ledger/outbox")
    alert_from: str = "aoai-ledger@localhost"
    alert_to: tuple[str, ...] = ()
    alert_webhooks: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # (kind, url); URLs are secrets
    daily_digest: bool = False
    report_to: tuple[str, ...] = ()
    log_analytics_workspace_id: str = ""
    azure_client_id: str = ""

    @property
    def body_storage_configured(self) -> bool:
        return bool(self.body_storage_url or self.body_storage_connection_string)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from `environ` (default: the process environment), failing with a clear message."""
    env = os.environ if environ is None else environ

    def get(name: str) -> str:
        value = env.get(name)
        return _DEFAULTS[name] if value is None else value

    auth_mode = _choice("LEDGER_AUTH", get("LEDGER_AUTH"), ("easyauth", "jwt", "dev"))
    hosted = next((name for name in AZURE_HOSTED if env.get(name)), None)
    if auth_mode == "dev" and hosted:
        raise SettingsError(
            f"LEDGER_AUTH={get('LEDGER_AUTH')!r} makes every caller an admin: it is for the local host on "
            f"loopback only, and {hosted} says this is an Azure deployment; use easyauth or jwt"
        )
    if auth_mode == "jwt" and not (get("LEDGER_JWT_TENANT_ID") or get("LEDGER_JWT_OPENID_CONFIG_URL")):
        raise SettingsError("LEDGER_AUTH=jwt needs LEDGER_JWT_TENANT_ID (or LEDGER_JWT_OPENID_CONFIG_URL)")
    if auth_mode == "jwt" and not get("LEDGER_JWT_AUDIENCE"):
        raise SettingsError("LEDGER_AUTH=jwt needs LEDGER_JWT_AUDIENCE")
    email_mode = _choice("LEDGER_EMAIL_MODE", get("LEDGER_EMAIL_MODE"), ("acs", "smtp", "outbox", "off"))
    if email_mode == "smtp" and not get("LEDGER_SMTP_HOST"):
        raise SettingsError("LEDGER_EMAIL_MODE=smtp needs LEDGER_SMTP_HOST")
    if email_mode == "acs" and not get("LEDGER_ACS_ENDPOINT"):
        raise SettingsError("LEDGER_EMAIL_MODE=acs needs LEDGER_ACS_ENDPOINT")
    sql_url = get("LEDGER_SQL_URL").strip() or DEFAULT_SQLITE_URL
    if "://" not in sql_url:
        raise SettingsError(f"LEDGER_SQL_URL must be a SQLAlchemy URL such as {DEFAULT_SQLITE_URL}, got {sql_url!r}")
    try:
        timezone = ZoneInfo(get("LEDGER_TIMEZONE").strip() or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"LEDGER_TIMEZONE must be an IANA time zone such as Europe/Paris, got {get('LEDGER_TIMEZONE')!r}"
        ) from None
    prices_file = get("LEDGER_PRICES_FILE").strip()
    quotas_file = get("LEDGER_QUOTAS_FILE").strip()
    teams_file = get("LEDGER_TEAMS_FILE").strip()
    ptu_file = get("LEDGER_PTU_FILE").strip()
    return Settings(
        sql_url=sql_url,
        store_text=_flag("LEDGER_STORE_TEXT", get("LEDGER_STORE_TEXT")),
        redact=_choice("LEDGER_REDACT", get("LEDGER_REDACT"), ("secrets", "pii", "off")),
        text_retention_days=int(_number("LEDGER_TEXT_RETENTION_DAYS", get("LEDGER_TEXT_RETENTION_DAYS"))),
        deadletter_retention_days=int(
            _number("LEDGER_DEADLETTER_RETENTION_DAYS", get("LEDGER_DEADLETTER_RETENTION_DAYS"))
        ),
        prices_file=Path(prices_file) if prices_file else None,
        kusto_ingest_uri=get("LEDGER_KUSTO_INGEST_URI").strip(),
        kusto_database=get("LEDGER_KUSTO_DATABASE").strip(),
        body_storage_url=get("LEDGER_BODY_STORAGE_URL").strip(),
        body_storage_connection_string=get("LEDGER_BODY_STORAGE_CONNECTION_STRING").strip(),
        body_wait_seconds=int(_number("LEDGER_BODY_WAIT_SECONDS", get("LEDGER_BODY_WAIT_SECONDS"))),
        monitor_join_seconds=int(_number("LEDGER_MONITOR_JOIN_SECONDS", get("LEDGER_MONITOR_JOIN_SECONDS"))),
        hourly_sums_days=int(_number("LEDGER_HOURLY_SUMS_DAYS", get("LEDGER_HOURLY_SUMS_DAYS"))),
        api_write_wait_seconds=float(
            _number("LEDGER_API_WRITE_WAIT_SECONDS", get("LEDGER_API_WRITE_WAIT_SECONDS"), float, 0.001)
        ),
        auth_mode=auth_mode,
        easyauth_trusted=_flag("LEDGER_EASYAUTH_TRUSTED", get("LEDGER_EASYAUTH_TRUSTED")),
        website_auth_enabled=_flag("WEBSITE_AUTH_ENABLED", env.get("WEBSITE_AUTH_ENABLED", "false")),
        jwt_tenant_id=get("LEDGER_JWT_TENANT_ID").strip(),
        jwt_audience=get("LEDGER_JWT_AUDIENCE").strip(),
        jwt_openid_config_url=get("LEDGER_JWT_OPENID_CONFIG_URL").strip(),
        public_url=get("LEDGER_PUBLIC_URL").strip().rstrip("/"),
        quotas_file=Path(quotas_file) if quotas_file else None,
        teams_file=Path(teams_file) if teams_file else None,
        ptu_file=Path(ptu_file) if ptu_file else None,
        timezone=timezone,
        anomaly_spike_factor=float(_number("LEDGER_ANOMALY_SPIKE_FACTOR", get("LEDGER_ANOMALY_SPIKE_FACTOR"), float)),
        anomaly_min_tokens=int(_number("LEDGER_ANOMALY_MIN_TOKENS", get("LEDGER_ANOMALY_MIN_TOKENS"))),
        anomaly_error_rate=float(_number("LEDGER_ANOMALY_ERROR_RATE", get("LEDGER_ANOMALY_ERROR_RATE"), float)),
        anomaly_filter_hits=int(_number("LEDGER_ANOMALY_FILTER_HITS", get("LEDGER_ANOMALY_FILTER_HITS"), int, 1)),
        email_mode=email_mode,
        acs_endpoint=get("LEDGER_ACS_ENDPOINT").strip(),
        smtp_host=get("LEDGER_SMTP_HOST").strip(),
        smtp_port=int(_number("LEDGER_SMTP_PORT", get("LEDGER_SMTP_PORT"), int, 1)),
        smtp_starttls=_flag("LEDGER_SMTP_STARTTLS", get("LEDGER_SMTP_STARTTLS")),
        smtp_username=get("LEDGER_SMTP_USERNAME"),
        smtp_password=get("LEDGER_SMTP_PASSWORD"),
        outbox_dir=Path(get("LEDGER_OUTBOX_DIR").strip() or ".ledger/outbox"),
        alert_from=get("LEDGER_ALERT_FROM").strip(),
        alert_to=_emails(get("LEDGER_ALERT_TO")),
        alert_webhooks=_webhooks(get("LEDGER_ALERT_WEBHOOKS")),
        daily_digest=_flag("LEDGER_DAILY_DIGEST", get("LEDGER_DAILY_DIGEST")),
        report_to=_emails(get("LEDGER_REPORT_TO")),
        log_analytics_workspace_id=get("LEDGER_LOG_ANALYTICS_WORKSPACE_ID").strip(),
        azure_client_id=get("AZURE_CLIENT_ID").strip(),
    )
