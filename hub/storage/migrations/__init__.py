"""Alembic migration scripts of the hub's schema (run by ``Database.upgrade()``)."""
