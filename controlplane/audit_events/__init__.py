"""The admin audit trail: an append-only record of every change and every login."""
