"""Authentication (tokens, session JWTs, passwords) and the one authorization decision."""
