"""Alembic revisions, oldest first. Create one with ``alembic revision --autogenerate``."""
