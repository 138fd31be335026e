"""Nothing in the database holds a provider key in any readable form."""

import base64

import httpx
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from controlplane.container import Container
from tests import factories
from tests.controlplane.providers.helpers import ANTHROPIC_KEY, OPENAI_KEY, login, put


def readable_forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, raw.hex().encode(), base64.b64encode(raw), base64.urlsafe_b64encode(raw)]


def test_a_dump_of_every_table_holds_no_plaintext_key(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = login(client, tenant.owner.username)
    ws = tenant.workspace.id
    assert put(client, owner, ws, "openai", OPENAI_KEY).status_code == 200
    stored = put(client, owner, ws, "anthropic", ANTHROPIC_KEY, agent_id=tenant.agent.id)
    assert stored.status_code == 200

    connection = session.connection()
    tables = inspect(connection).get_table_names()
    assert {"provider_credentials", "audit_events"} <= set(tables)
    dumped: dict[str, int] = {}
    forbidden = readable_forms(OPENAI_KEY) + readable_forms(ANTHROPIC_KEY)
    for table in tables:
        rows = connection.execute(text(f'SELECT * FROM "{table}"')).all()  # noqa: S608 - names from the inspector
        dumped[table] = len(rows)
        for row in rows:
            for value in row:
                data = (
                    bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
                )
                leaked = [form for form in forbidden if form in data]
                assert not leaked, f"{table} holds a provider key: {row}"
    # The dump saw the credentials and their audit events, so the check above was not vacuous.
    assert dumped["provider_credentials"] == 2
    assert dumped["audit_events"] >= 2
