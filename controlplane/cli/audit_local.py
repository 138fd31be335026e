"""The checklist, run from the CLI against the control plane on this host: its configuration
and its database, read-only, with the attestations of the workspace the nightly job uses."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import SQLAlchemyError

from audits.model import Attestation
from controlplane.audit_runs import service as audit_runs
from controlplane.cli.local import database_failed, local_container
from controlplane.cli.output import fail
from controlplane.config import get_settings
from controlplane.container import Container
from controlplane.context import Ctx
from controlplane.db import transaction

USAGE_ERROR = 2


@contextmanager
def local_checklist_context(
    enabled: bool,
) -> Iterator[tuple[Container | None, list[Attestation]]]:
    if not enabled:
        yield None, []
        return
    settings = get_settings()
    if settings.database_url is None and not settings.home.is_dir():
        # Building a container would create a home and keys: an audit must not do that.
        fail(
            f"no control plane at {settings.home}: set GATEHOUSE_HOME or GATEHOUSE_DATABASE_URL, "
            "or use --remote to let a server run its own checklist",
            USAGE_ERROR,
        )
    container = local_container(settings)
    try:
        with transaction(container.session_factory, read_only=True) as session:
            attestations = audit_runs.scheduled_attestations(Ctx(session=session, app=container))
        yield container, attestations
    except SQLAlchemyError as error:
        database_failed(error)
    finally:
        container.engine.dispose()
