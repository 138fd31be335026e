"""At most one policy per workspace and per agent, and a lost race is a 409, not a 500."""

import pytest
from sqlalchemy.orm import Session

from controlplane.container import Container
from controlplane.errors import Conflict
from controlplane.kit.ids import new_id
from controlplane.policies import repository
from controlplane.policies.models import ProxyPolicy
from tests import factories


@pytest.mark.parametrize("for_agent", [False, True], ids=["workspace", "agent"])
def test_a_second_first_write_is_a_conflict(
    session: Session, container: Container, for_agent: bool
) -> None:
    # Two PUTs that both found no row (the locked read locks nothing) both insert; the unique
    # partial index lets one win, and the other must answer 409, as providers do.
    tenant = factories.tenant(session, container, "acme")
    agent_id = tenant.agent.id if for_agent else None

    def policy() -> ProxyPolicy:
        return ProxyPolicy(id=new_id("pol"), workspace_id=tenant.workspace.id, agent_id=agent_id)

    repository.add(session, policy())
    with pytest.raises(Conflict):
        repository.add(session, policy())
    session.rollback()
