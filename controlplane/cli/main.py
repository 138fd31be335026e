"""Entry point: `gatehouse = controlplane.cli.main:main`."""

import typer

from controlplane.cli import account, audit, identity, local, tokens

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
# Remote commands: HTTP calls to the server at GATEHOUSE_URL.
app.command()(account.login)
app.command()(account.me)
app.add_typer(account.users_app, name="users")
app.add_typer(identity.workspaces_app, name="workspaces")
app.add_typer(identity.members_app, name="members")
app.add_typer(identity.agents_app, name="agents")
app.add_typer(identity.plugins_app, name="plugins")
app.add_typer(tokens.tokens_app, name="tokens")
app.add_typer(audit.audit_app, name="audit-events")


def main() -> None:
    app()
