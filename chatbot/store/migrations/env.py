"""Alembic environment: runs against the engine handed over in ``config.attributes``."""

from alembic import context
from sqlalchemy import text

from chatbot.search import include_in_schema_compare
from chatbot.store.models import Base

config = context.config
engine = config.attributes["engine"]

# Any number fixed for this app: app servers starting at once on one PostgreSQL database
# migrate one after the other (the lock lasts until this transaction commits; the next one
# then finds the schema at head and does nothing).
MIGRATION_LOCK = 7_202_611

with engine.connect() as connection:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_name=include_in_schema_compare,  # autogenerate must not drop the FTS5 tables
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
