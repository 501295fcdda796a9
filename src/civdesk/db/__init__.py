"""Database plumbing: declarative Base, engines and sessions, Alembic migrations."""
