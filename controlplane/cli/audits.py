"""`gatehouse audit`: the security team's commands.

`run` and `secrets` work standalone, on this machine, with no server; the rest read and act on
the runs the control plane stores (`GATEHOUSE_URL`), like every other remote command.
"""

import typer

from controlplane.cli import audit_remote, audit_run, audit_secrets

audits_app = typer.Typer(
    help="Security audits: secret scans, static analysis, the checklist and reports.",
    no_args_is_help=True,
)
runs_app = typer.Typer(help="Stored audit runs.", no_args_is_help=True)
findings_app = typer.Typer(help="Findings across runs.", no_args_is_help=True)
suppressions_app = typer.Typer(help="Expiring, justified suppressions.", no_args_is_help=True)

audits_app.command(name="run")(audit_run.run)
audits_app.command(name="secrets")(audit_secrets.secrets)
audits_app.command(name="report")(audit_remote.report)
audits_app.command(name="diff")(audit_remote.diff)
audits_app.command(name="suppress")(audit_remote.suppress)
audits_app.command(name="attest")(audit_remote.attest)
audits_app.command(name="checklist")(audit_remote.checklist_show)
audits_app.command(name="trends")(audit_remote.trends)
audits_app.add_typer(runs_app, name="runs")
audits_app.add_typer(findings_app, name="findings")
audits_app.add_typer(suppressions_app, name="suppressions")
runs_app.command(name="list")(audit_remote.runs_list)
runs_app.command(name="show")(audit_remote.run_show)
findings_app.command(name="list")(audit_remote.findings_list)
suppressions_app.command(name="list")(audit_remote.suppressions_list)
suppressions_app.command(name="revoke")(audit_remote.unsuppress)
