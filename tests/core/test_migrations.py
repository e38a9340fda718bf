"""The migrations build exactly the schema the models declare, on both databases: a column added to a model
without its migration (or a migration that drifts from its model) fails here, not in production."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

from core.migrate import import_all_models


def test_migrated_schema_matches_the_models(database_url):
    import_all_models()
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
    assert differences == []
