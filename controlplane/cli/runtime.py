"""`gatehouse runtime`: run the streaming runtime standalone, print its contract, ask its status.

`gatehouse serve` already runs a runtime as its child. `runtime serve` is for scale-out: one
runtime (or several) behind several control planes, each pointed at it with
`GATEHOUSE_RUNTIME_URL`. `runtime status` asks the server at `GATEHOUSE_URL`.
"""

from typing import Annotated

import typer

from controlplane.cli.client import JsonFlag, connect, record_table
from controlplane.cli.output import emit_json, fail
from controlplane.config import get_settings

runtime_app = typer.Typer(help="The streaming runtime.", no_args_is_help=True)

STATUS_FIELDS = [
    "state",
    "managed",
    "url",
    "pid",
    "workers",
    "version",
    "uptime_seconds",
    "restarts",
    "last_error",
    "last_exit_code",
    "last_check_at",
]


@runtime_app.command("serve")
def runtime_serve(
    host: Annotated[
        str | None, typer.Option(help="Bind address (default: GATEHOUSE_RUNTIME_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default: GATEHOUSE_RUNTIME_PORT).", min=1, max=65_535)
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes (default: GATEHOUSE_RUNTIME_WORKERS).", min=1, max=64),
    ] = None,
) -> None:
    """Run the runtime on its own, for control planes that set GATEHOUSE_RUNTIME_URL."""
    settings = get_settings()
    trust_key = settings.runtime_trust_key_path
    if not trust_key.is_file():
        # Without it the runtime could verify no credential, so it would refuse every run.
        fail(
            f"no runtime trust key at {trust_key}: copy a control plane's "
            "keys/runtime-signing.pub there, or set GATEHOUSE_RUNTIME_TRUST_KEY_FILE"
        )
    from runtime.server import serve  # noqa: PLC0415 - only this command loads the runtime

    serve(
        host if host is not None else settings.runtime_host,
        port if port is not None else settings.runtime_port,
        workers if workers is not None else settings.runtime_workers,
    )


@runtime_app.command("schema")
def runtime_schema() -> None:
    """Print the JSON Schema of the runtime's event contract."""
    from runtime.contract import json_schema_text  # noqa: PLC0415 - as above

    typer.echo(json_schema_text())


@runtime_app.command("status")
def runtime_status(as_json: JsonFlag = False) -> None:
    """How the server at GATEHOUSE_URL sees its runtime: up, degraded or down, and why."""
    with connect() as api:
        status = api.get("/v1/runtime/status")
    if as_json:
        emit_json(status)
    else:
        record_table(status, STATUS_FIELDS)
