"""Commands that work on the local store directly: init, serve, db, keys."""

import dataclasses
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from sqlalchemy.exc import SQLAlchemyError

from controlplane import migrate
from controlplane.cli.output import emit_json, fail, note, secret_once
from controlplane.config import Settings, get_settings
from controlplane.container import Container
from controlplane.context import Ctx
from controlplane.db import transaction
from controlplane.errors import GatehouseError
from controlplane.identity import bootstrap
from controlplane.providers import service as providers

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="Key material.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def local_container(settings: Settings | None = None) -> Container:
    """The store and keys, for the commands that work on them directly."""
    try:
        return Container.build(settings or get_settings())
    except GatehouseError as error:
        fail(error.message)


def database_failed(error: SQLAlchemyError) -> NoReturn:
    fail(
        f"the database could not be read ({type(error).__name__}); "
        "is it reachable and is the schema current (`gatehouse db upgrade`)?"
    )


def initialise(container: Container) -> dict[str, str] | None:
    """Create the first admin, default workspace and admin token; None if already done."""
    with transaction(container.session_factory) as session:
        ctx = Ctx(session=session, app=container)
        if bootstrap.is_initialised(ctx):
            return None
        user, workspace, raw = bootstrap.bootstrap(ctx)
    return {
        "username": user.username,
        "user_id": user.id,
        "workspace_id": workspace.id,
        "admin_token": raw,
    }


def _print_initialised(result: dict[str, str], as_json: bool) -> None:
    if as_json:
        emit_json(result)
        return
    note(
        f"Initialised: admin user {result['username']}, "
        f"workspace default ({result['workspace_id']})."
    )
    secret_once("admin token", result["admin_token"])
    note("Use it as GATEHOUSE_TOKEN, or `gatehouse users passwd` then `gatehouse login`.")


def init(as_json: JsonFlag = False) -> None:
    """Create the first admin user and the default workspace; print the admin token once."""
    container = local_container()
    migrate.upgrade(container.engine)
    result = initialise(container)
    if result is None:
        fail("Gatehouse is already initialised; no new admin token was issued")
    _print_initialised(result, as_json)


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
) -> None:
    """Run the server. The embedded store is migrated and initialised on first start."""
    import uvicorn  # noqa: PLC0415 - only `serve` pays for importing the server stack

    from controlplane.app import create_app  # noqa: PLC0415 - as above
    from controlplane.observability import configure_logging, init_sentry  # noqa: PLC0415

    # Where this process really listens: the runtime child calls back to it (its proxy URL).
    settings = get_settings().model_copy(
        update={key: value for key, value in (("host", host), ("port", port)) if value is not None}
    )
    configure_logging(settings)
    container = local_container(settings)
    if settings.is_embedded_store:
        migrate.upgrade(container.engine)
    elif migrate.current_revision(container.engine) != migrate.head_revision():
        fail("the database schema is not current; run `gatehouse db upgrade` first")
    result = initialise(container)
    if result is not None:
        _print_initialised(result, as_json=False)
    init_sentry(settings)
    uvicorn.run(
        create_app(container),
        host=settings.host,
        port=settings.port,
        proxy_headers=False,
        server_header=False,
        log_level=settings.log_level.lower(),
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    container = local_container()
    migrate.upgrade(container.engine, revision)
    note(f"database at {migrate.current_revision(container.engine)}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target, e.g. -1 or base.")]) -> None:
    """Revert migrations down to REVISION."""
    container = local_container()
    migrate.downgrade(container.engine, revision)
    note(f"database at {migrate.current_revision(container.engine)}")


@db_app.command("current")
def db_current() -> None:
    """Show the applied and the latest revision."""
    container = local_container()
    note(f"applied: {migrate.current_revision(container.engine)}  head: {migrate.head_revision()}")


@keys_app.command("rotate-signing")
def rotate_signing() -> None:
    """Start signing sessions with a new Ed25519 key; the old one verifies for the overlap."""
    container = local_container()
    try:
        kid = container.keyring.rotate()
    except GatehouseError as error:
        fail(error.message)
    note(f"new signing key {kid}; other processes pick it up within seconds")


@keys_app.command("rotate")
def rotate_data_key(
    new_key_file: Annotated[
        Path | None,
        typer.Option(
            "--new-key-file",
            help="Re-wrap under the key in this file (needed when the current key comes from "
            "GATEHOUSE_DATA_KEY or GATEHOUSE_DATA_KEY_FILE); then point GATEHOUSE_DATA_KEY_FILE "
            "at it.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Re-wrap every provider credential under a new master data-encryption key.

    The old key is kept as retired in $GATEHOUSE_HOME/keys, so running processes keep
    decrypting; the credentials' ciphertexts do not change.
    """
    container = local_container()
    if migrate.current_revision(container.engine) != migrate.head_revision():
        fail("the database schema is not current; run `gatehouse db upgrade` first")
    try:
        rotation = providers.rotate_master_key(container, new_key_file)
    except GatehouseError as error:
        fail(error.message)
    if as_json:
        emit_json(dataclasses.asdict(rotation))
        return
    note(
        f"re-wrapped {rotation.rewrapped} credentials under master key {rotation.key_id}; "
        f"{rotation.previous_key_id} is retired"
    )
    if new_key_file is not None:
        note(f"now set GATEHOUSE_DATA_KEY_FILE={new_key_file} on every process")
