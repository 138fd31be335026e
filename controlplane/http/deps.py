"""Dependency aliases. Every route takes exactly one of `PublicCtx` or a `Require(...)` alias.

`Require(scope)` authenticates, then authorizes: at once when the path names the workspace
(`{workspace_id}`) or the scope is instance-level; otherwise the service authorizes after it has
loaded the resource, through the same `authorize()`.
"""

import dataclasses
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from controlplane.auth.credentials import credential_from
from controlplane.auth.policy import INSTANCE, authorize
from controlplane.auth.principal import Principal
from controlplane.auth.scopes import INSTANCE_SCOPES, Scope
from controlplane.container import Container
from controlplane.context import Ctx
from controlplane.db import transaction
from controlplane.errors import Unauthenticated
from controlplane.identity import service as identity
from controlplane.observability import AUTH_FAILURES
from controlplane.tokens.format import TOKEN_PREFIX


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def get_session(container: ContainerDep) -> Iterator[Session]:
    # scope="function" below: the commit happens before the response is sent, so a failed
    # commit becomes an error response instead of a success the database never kept.
    with transaction(container.session_factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def presented_credential(request: Request) -> str | None:
    return credential_from(request.scope["headers"])


def _public_ctx(request: Request, session: SessionDep, container: ContainerDep) -> Ctx:
    return Ctx(
        session=session,
        app=container,
        client_ip=client_ip(request),
        request_id=getattr(request.state, "request_id", None),
    )


PublicCtx = Annotated[Ctx, Depends(_public_ctx)]


def authenticate(ctx: Ctx, credential: str | None) -> Principal:
    """Verify the credential, then load what the principal needs, in short transactions.

    Each step holds at most one pooled connection and releases it before the next, so a burst
    of requests can never deadlock waiting for a second connection while holding a first.
    """
    try:
        if not credential:
            raise Unauthenticated("missing")
        if credential.startswith(TOKEN_PREFIX):
            grant = ctx.app.verifier.verify(credential, ctx.client_ip)
            if grant.workspace_id is not None:
                return identity.principal_for_workspace_token(grant)
            user_id, token = grant.user_id, grant
        elif credential.count(".") == 2:
            user_id, token = ctx.app.session_tokens.verify(credential).user_id, None
        else:
            raise Unauthenticated("malformed")
        with transaction(ctx.app.session_factory, read_only=True) as session:
            return identity.principal_for_user(
                dataclasses.replace(ctx, session=session), user_id, token
            )
    except Unauthenticated as refused:
        AUTH_FAILURES.labels(refused.reason).inc()
        raise


class Require:
    """A route's declared requirement; `scope=None` means any authenticated caller."""

    def __init__(self, scope: Scope | None) -> None:
        self.scope = scope

    def __call__(self, request: Request, ctx: PublicCtx) -> Ctx:
        # Authentication and this early check read in short transactions of their own, never
        # in the request's: a dependency and its endpoint run on different worker threads, and
        # a transaction held across that hop (SQLite's write lock, a row lock, a pooled
        # connection) can starve the very threads that would release it. The request's own
        # transaction starts inside the endpoint.
        principal = authenticate(ctx, presented_credential(request))
        authed = dataclasses.replace(ctx, principal=principal)
        workspace_id = request.path_params.get("workspace_id")
        if self.scope in INSTANCE_SCOPES:
            authorize(principal, self.scope, INSTANCE)
        elif self.scope is not None and workspace_id is not None:
            with transaction(ctx.app.session_factory, read_only=True) as session:
                identity.workspace_for(
                    dataclasses.replace(authed, session=session), workspace_id, self.scope
                )
        return authed


Authenticated = Annotated[Ctx, Depends(Require(None))]
AgentsRead = Annotated[Ctx, Depends(Require(Scope.AGENTS_READ))]
AgentsWrite = Annotated[Ctx, Depends(Require(Scope.AGENTS_WRITE))]
PluginsApprove = Annotated[Ctx, Depends(Require(Scope.PLUGINS_APPROVE))]
TokensRead = Annotated[Ctx, Depends(Require(Scope.TOKENS_READ))]
TokensWrite = Annotated[Ctx, Depends(Require(Scope.TOKENS_WRITE))]
MembersRead = Annotated[Ctx, Depends(Require(Scope.MEMBERS_READ))]
MembersWrite = Annotated[Ctx, Depends(Require(Scope.MEMBERS_WRITE))]
AuditRead = Annotated[Ctx, Depends(Require(Scope.AUDIT_READ))]
AuditRun = Annotated[Ctx, Depends(Require(Scope.AUDIT_RUN))]
AccessLogRead = Annotated[Ctx, Depends(Require(Scope.ACCESS_LOG_READ))]
UsersWrite = Annotated[Ctx, Depends(Require(Scope.USERS_WRITE))]
WorkspacesCreate = Annotated[Ctx, Depends(Require(Scope.WORKSPACES_CREATE))]
MetricsRead = Annotated[Ctx, Depends(Require(Scope.METRICS_READ))]
ProvidersRead = Annotated[Ctx, Depends(Require(Scope.PROVIDERS_READ))]
ProvidersWrite = Annotated[Ctx, Depends(Require(Scope.PROVIDERS_WRITE))]
PolicyRead = Annotated[Ctx, Depends(Require(Scope.POLICY_READ))]
PolicyWrite = Annotated[Ctx, Depends(Require(Scope.POLICY_WRITE))]
