"""Entry point: `gatehouse = controlplane.cli.main:main`."""

import typer

from controlplane.cli import local

app = typer.Typer(
    name="gatehouse",
    help="Gatehouse: the security and operations control plane for agent platforms.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(local.init)
app.command()(local.serve)
app.add_typer(local.db_app, name="db")
app.add_typer(local.keys_app, name="keys")


def main() -> None:
    app()
