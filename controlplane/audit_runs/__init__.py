"""Stored security audits: runs, findings across runs, suppressions, attestations, schedule."""
