"""Test data builders. They flush and never commit: the per-test rollback cleans up."""

from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from controlplane.auth.scopes import Role
from controlplane.container import Container
from controlplane.context import Ctx
from controlplane.identity import repository as identity_repository
from controlplane.identity import service as identity
from controlplane.identity.models import Agent, Membership, User, Workspace
from controlplane.kit.ids import new_id
from controlplane.tokens import service as tokens
from controlplane.tokens.models import Token
from controlplane.tokens.schemas import TokenCreate

PASSWORD = "correct horse battery staple"  # pragma: allowlist secret


@lru_cache
def _password_hash() -> str:
    # One argon2 hash per run instead of one per user: the hash is what is slow, on purpose.
    return PasswordHasher().hash(PASSWORD)


def password_hash(_container: Container) -> str:
    return _password_hash()


def user(session: Session, container: Container, username: str, *, is_admin: bool = False) -> User:
    row = User(
        id=new_id("usr"),
        username=username,
        password_hash=password_hash(container),
        is_admin=is_admin,
    )
    identity_repository.add(session, row)
    return row


def workspace(session: Session, name: str, *, owner: User | None = None) -> Workspace:
    row = Workspace(id=new_id("ws"), name=name, created_by=owner.id if owner else None)
    identity_repository.add(session, row)
    if owner is not None:
        member(session, row, owner, Role.OWNER)
    return row


def member(session: Session, ws: Workspace, who: User, role: Role) -> Membership:
    row = Membership(id=new_id("mem"), workspace_id=ws.id, user_id=who.id, role=role)
    identity_repository.add(session, row)
    return row


def agent(session: Session, ws: Workspace, name: str) -> Agent:
    row = Agent(id=new_id("agt"), workspace_id=ws.id, name=name, description="")
    identity_repository.add(session, row)
    return row


def user_ctx(session: Session, container: Container, who: User) -> Ctx:
    base = Ctx(session=session, app=container, client_ip="127.0.0.1", request_id="test")
    return Ctx(
        session=session,
        app=container,
        principal=identity.principal_for_user(base, who.id),
        client_ip="127.0.0.1",
        request_id="test",
    )


def token(
    session: Session,
    container: Container,
    ws: Workspace,
    creator: User,
    scopes: list[str],
    **fields: object,
) -> tuple[Token, str]:
    ctx = user_ctx(session, container, creator)
    return tokens.issue(ctx, ws.id, TokenCreate(scopes=scopes, **fields))  # type: ignore[arg-type] - test kwargs


@dataclass
class Tenant:
    workspace: Workspace
    owner: User
    viewer: User
    agent: Agent
    agent_token: str
    agent_token_accessor: str


def tenant(session: Session, container: Container, name: str) -> Tenant:
    owner = user(session, container, f"{name}-owner")
    viewer = user(session, container, f"{name}-viewer")
    ws = workspace(session, name, owner=owner)
    member(session, ws, viewer, Role.VIEWER)
    bot = agent(session, ws, f"{name}-agent")
    row, raw = token(
        session,
        container,
        ws,
        owner,
        ["proxy:invoke", "runtime:invoke", "agents:read", "tokens:read"],
        agent_id=bot.id,
    )
    return Tenant(ws, owner, viewer, bot, raw, row.accessor)
