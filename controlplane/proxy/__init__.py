"""The policy proxy: agents call providers through Gatehouse with their Gatehouse token."""
