import httpx
from sqlalchemy.orm import Session

from controlplane.container import Container
from tests import factories


def test_agent_token_reads_its_workspace(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    response = client.get(
        f"/v1/workspaces/{tenant.workspace.id}/agents",
        headers={"Authorization": f"Bearer {tenant.agent_token}"},
    )
    assert response.status_code == 200, response.text
    assert [a["name"] for a in response.json()["items"]] == ["acme-agent"]
