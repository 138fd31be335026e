"""Alembic migrations. Revisions are date-slugged: YYYY-MM-DD-HHMM_slug.py."""
