"""Entry point: `gatehouse = controlplane.cli.main:main`."""

import typer

from controlplane.cli import (
    access_log,
    account,
    agent_runtime,  # noqa: F401 - registers `agents configure` and `agents runtime`
    anomaly,
    audit,
    audits,
    identity,
    local,
    policy,
    providers,
    run,
    runtime,
    slo,
    tokens,
)

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
app.add_typer(access_log.access_log_app, name="access-log")
app.add_typer(anomaly.anomaly_app, name="anomaly")
# `runtime serve` and `runtime schema` run here; `runtime status` asks the server.
app.add_typer(runtime.runtime_app, name="runtime")
app.add_typer(slo.slo_app, name="slo")
# `audit run` and `audit secrets` work standalone; the other `audit` commands ask the server.
app.add_typer(audits.audits_app, name="audit")
# Remote commands: HTTP calls to the server at GATEHOUSE_URL.
app.command()(account.login)
app.command()(account.me)
app.command(name="run")(run.run)
app.add_typer(account.users_app, name="users")
app.add_typer(identity.workspaces_app, name="workspaces")
app.add_typer(identity.members_app, name="members")
app.add_typer(identity.agents_app, name="agents")
app.add_typer(identity.plugins_app, name="plugins")
app.add_typer(tokens.tokens_app, name="tokens")
app.add_typer(audit.audit_app, name="audit-events")
app.add_typer(providers.providers_app, name="providers")
app.add_typer(policy.policy_app, name="policy")


def main() -> None:
    app()
