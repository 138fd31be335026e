"""Scoped tokens: issue, verify, rotate and revoke."""
