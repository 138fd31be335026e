"""The `gatehouse` command line (typer + rich)."""
