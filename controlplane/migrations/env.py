"""Alembic environment: runs against the connection handed in by `controlplane.migrate`."""

from alembic import context
from sqlalchemy import Connection, text

from controlplane.access_log import models as _access_log_models  # noqa: F401 - registers tables
from controlplane.agent_runtime import models as _agent_runtime_models  # noqa: F401 - registers tables
from controlplane.anomaly import models as _anomaly_models  # noqa: F401 - registers tables
from controlplane.audit_events import models as _audit_models  # noqa: F401 - registers tables
from controlplane.audit_runs import models as _audit_run_models  # noqa: F401 - registers tables
from controlplane.db import Base
from controlplane.identity import models as _identity_models  # noqa: F401 - registers tables
from controlplane.policies import models as _policy_models  # noqa: F401 - registers tables
from controlplane.providers import models as _provider_models  # noqa: F401 - registers tables
from controlplane.scheduling import models as _scheduling_models  # noqa: F401 - registers tables
from controlplane.tokens import models as _token_models  # noqa: F401 - registers tables
from runtime.store import models as _runtime_models  # noqa: F401 - registers tables


def run_migrations(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # A migration that waits on a lock must fail fast rather than stall live traffic.
        connection.execute(text("SET lock_timeout = '5s'"))
        connection.execute(text("SET statement_timeout = '60s'"))
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `gatehouse db upgrade`")
run_migrations(connection)
