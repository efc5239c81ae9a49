"""Storage: SQLAlchemy tables, the engine and session, alembic migrations."""
