"""Gatehouse control plane: identity, scoped tokens, policy proxy and operations tooling."""
