"""Render the schema as T-SQL for Azure SQL Database: `python -m shared.store.ddl > infra/sql/schema.sql`.

Azure SQL gets its tables from this file at provisioning (the app's identity has no DDL rights there);
a test keeps the committed file equal to what the schema module renders.
"""

from __future__ import annotations

import sys

from sqlalchemy.dialects import mssql
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable

from shared.store import schema_extensions  # noqa: F401  (tables other modules add to the same metadata)
from shared.store.schema import metadata

HEADER = """-- aoai-ledger schema for Azure SQL Database, generated from shared/store/schema.py (make schema).
-- Idempotent: each table is created only when it does not exist yet.
"""


def render_tsql() -> str:
    dialect: Dialect = mssql.dialect(deprecate_large_types=True)  # NVARCHAR(max), not the deprecated NTEXT
    dialect.server_version_info = (16, 0)
    parts = [HEADER]
    for table in metadata.sorted_tables:
        create = str(CreateTable(table).compile(dialect=dialect)).strip()
        indexes = [
            str(CreateIndex(index).compile(dialect=dialect)).strip()
            for index in sorted(table.indexes, key=lambda i: i.name or "")
        ]
        body = ";\n    ".join([create, *indexes])
        parts.append(f"IF OBJECT_ID(N'dbo.{table.name}', N'U') IS NULL\nBEGIN\n    {body};\nEND;\nGO\n")
    return "\n".join(parts)


if __name__ == "__main__":
    sys.stdout.write(render_tsql())
