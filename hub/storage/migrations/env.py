"""Alembic environment: runs against the connection ``Database.upgrade()`` hands in.

There is no alembic.ini: the hub calls Alembic programmatically, so migrations
run the same way from ``doorstep hub migrate``, from tests and at hub start.
"""

from __future__ import annotations

from alembic import context

from hub.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through hub.storage.Database.upgrade(), not bare alembic")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    compare_type=True,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
