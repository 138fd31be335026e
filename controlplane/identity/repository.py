"""Identity queries: users, workspaces, memberships, agents, plugins."""

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from controlplane.identity.models import Agent, Membership, Plugin, User, Workspace


def add(session: Session, *rows: User | Workspace | Membership | Agent | Plugin) -> None:
    session.add_all(rows)
    session.flush()


def get_user(session: Session, user_id: str) -> User | None:
    return session.get(User, user_id)


def get_user_by_username(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).one_or_none()


def any_user_exists(session: Session) -> bool:
    return session.scalars(select(User.id).limit(1)).first() is not None


def list_users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.id)).all()


def get_workspace(session: Session, workspace_id: str) -> Workspace | None:
    return session.get(Workspace, workspace_id)


def resolve_workspace_id(session: Session, wanted: str | None) -> str | None:
    """The workspace whose id, else whose name, is `wanted`; with none wanted, the oldest.
    None when `wanted` names no workspace, or none exists.

    Ids sort by creation time, so the oldest is the smallest id; a name shared by several
    workspaces resolves to the oldest of them.
    """
    query = select(Workspace.id)
    if wanted is not None:
        by_id = session.scalars(query.where(Workspace.id == wanted)).first()
        if by_id is not None:
            return by_id
        query = query.where(Workspace.name == wanted)
    return session.scalars(query.order_by(Workspace.id).limit(1)).first()


def list_workspaces(session: Session, workspace_ids: Sequence[str]) -> Sequence[Workspace]:
    return session.scalars(
        select(Workspace).where(Workspace.id.in_(list(workspace_ids))).order_by(Workspace.id)
    ).all()


def memberships_of(session: Session, user_id: str) -> Sequence[Membership]:
    return session.scalars(select(Membership).where(Membership.user_id == user_id)).all()


def get_membership(session: Session, workspace_id: str, user_id: str) -> Membership | None:
    return session.scalars(
        select(Membership).where(
            Membership.workspace_id == workspace_id, Membership.user_id == user_id
        )
    ).one_or_none()


def list_members(session: Session, workspace_id: str) -> Sequence[tuple[Membership, User]]:
    rows = session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.workspace_id == workspace_id)
        .order_by(Membership.id)
    ).all()
    return [(row[0], row[1]) for row in rows]


def delete_membership(session: Session, membership: Membership) -> None:
    session.execute(delete(Membership).where(Membership.id == membership.id))


def get_agent(session: Session, workspace_id: str, agent_id: str) -> Agent | None:
    return session.scalars(
        select(Agent).where(Agent.id == agent_id, Agent.workspace_id == workspace_id)
    ).one_or_none()


def get_agent_by_name(session: Session, workspace_id: str, name: str) -> Agent | None:
    return session.scalars(
        select(Agent).where(Agent.workspace_id == workspace_id, Agent.name == name)
    ).one_or_none()


def list_agents(
    session: Session, workspace_id: str, *, agent_id: str | None, after: str | None, limit: int
) -> Sequence[Agent]:
    query = select(Agent).where(Agent.workspace_id == workspace_id)
    if agent_id is not None:
        query = query.where(Agent.id == agent_id)
    if after is not None:
        query = query.where(Agent.id > after)
    return session.scalars(query.order_by(Agent.id).limit(limit)).all()


def get_plugin(session: Session, agent_id: str, plugin_id: str) -> Plugin | None:
    return session.scalars(
        select(Plugin).where(Plugin.id == plugin_id, Plugin.agent_id == agent_id)
    ).one_or_none()


def get_plugin_by_name(session: Session, agent_id: str, name: str) -> Plugin | None:
    return session.scalars(
        select(Plugin).where(Plugin.agent_id == agent_id, Plugin.name == name)
    ).one_or_none()


def list_plugins(session: Session, agent_id: str) -> Sequence[Plugin]:
    return session.scalars(
        select(Plugin).where(Plugin.agent_id == agent_id).order_by(Plugin.id)
    ).all()
