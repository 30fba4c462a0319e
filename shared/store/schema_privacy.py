"""Tables of the privacy features, added to the ledger's metadata.

`access_log` answers "who read what": every read of prompt or completion text, every erasure and every quota
change, with who, which call or scope, when and from where. It is append-only for the app; retention of
text never touches it (an auditor needs the trail longer than the text).
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Unicode

from shared.store.schema import NAME, UTC_TIME, metadata

access_log = Table(
    "access_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTC_TIME, nullable=False),
    Column("actor", NAME, nullable=False),  # the caller's object id (or name); "anonymous" when there is none
    Column(
        "action", String(32), nullable=False
    ),  # read_text | erase_user_text | erase_enduser_text | quota_put | quota_delete
    Column("target", NAME, nullable=False),  # the call id, the user, or `scopeType/scopeId`
    Column("client_ip", String(64)),  # first X-Forwarded-For hop, else the peer
    Column("detail", Unicode(1024)),  # JSON: counts of an erasure, the quota as set, ...
    Index("ix_access_log_at", "at", "id"),
)
