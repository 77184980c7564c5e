"""Alembic environment: runs against the engine handed over in ``config.attributes``."""

from alembic import context

from chatbot.search import include_in_schema_compare
from chatbot.store.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_name=include_in_schema_compare,  # autogenerate must not drop the FTS5 tables
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
