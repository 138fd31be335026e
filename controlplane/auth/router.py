"""Login and "who am I"."""

from fastapi import APIRouter

from controlplane.context import Ctx
from controlplane.db import transaction
from controlplane.errors import Unauthenticated
from controlplane.http.deps import Authenticated, PublicCtx
from controlplane.identity import service as identity
from controlplane.identity.schemas import (
    LoginRequest,
    LoginResponse,
    MeOut,
    PasswordChange,
    UserOut,
    WorkspaceOut,
)

router = APIRouter(prefix="/v1", tags=["auth"])


@router.post("/auth/login", response_model=LoginResponse)
def login(body: LoginRequest, ctx: PublicCtx) -> LoginResponse:
    try:
        token = identity.login(ctx, body.username, body.password)
    except identity.LoginFailed as failure:
        # The request's transaction rolls back; the failure is kept in a transaction of its own
        # so that throttling and the audit trail see it. Roll back first: on SQLite the request
        # holds the write lock, and the failure's transaction would wait on it until timeout.
        ctx.session.rollback()
        with transaction(ctx.app.session_factory) as session:
            identity.record_login_failure(
                Ctx(
                    session=session, app=ctx.app, client_ip=ctx.client_ip, request_id=ctx.request_id
                ),
                failure,
            )
        raise Unauthenticated(failure.reason) from None
    return LoginResponse(access_token=token, expires_in=ctx.app.session_tokens.ttl_seconds)


@router.get("/me", response_model=MeOut)
def me(ctx: Authenticated) -> MeOut:
    principal = ctx.require_principal()
    user = identity.get_user(ctx, principal.user_id)
    token = principal.token
    return MeOut(
        kind=principal.kind,
        user=UserOut.model_validate(user),
        token_accessor=token.accessor if token else None,
        workspace_id=token.workspace_id if token else None,
        agent_id=token.agent_id if token else None,
        scopes=sorted(token.scopes) if token else None,
        workspaces=[
            WorkspaceOut.model_validate(ws).model_copy(update={"role": role})
            for ws, role in identity.list_workspaces(ctx)
        ],
    )


@router.put("/me/password", status_code=204)
def change_password(body: PasswordChange, ctx: Authenticated) -> None:
    identity.change_password(ctx, body)
