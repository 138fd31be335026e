"""Small shared helpers with no knowledge of any domain."""
