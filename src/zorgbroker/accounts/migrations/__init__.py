"""Alembic migrations of the accounts tables."""
