"""Scoped tokens over HTTP. The secret is in the issue and rotate responses, and nowhere else."""

from typing import Annotated

from fastapi import APIRouter, Query

from controlplane.context import Ctx
from controlplane.http.deps import Authenticated, TokensRead, TokensWrite
from controlplane.kit.pagination import next_cursor
from controlplane.kit.schemas import Page, PageLimit
from controlplane.tokens import service
from controlplane.tokens.models import Token
from controlplane.tokens.schemas import (
    LeakCheck,
    LeakCheckResults,
    TokenCreate,
    TokenIssued,
    TokenOut,
    TokenResumed,
    TokenRevoke,
    TokenRevoked,
    TokenRotate,
    TokenSuspend,
    TokenSuspended,
)

router = APIRouter(prefix="/v1", tags=["tokens"])


def _out(ctx: Ctx, token: Token) -> TokenOut:
    return TokenOut.model_validate(token).model_copy(
        update={"parent_accessor": service.parent_accessor(ctx, token)}
    )


def _issued(ctx: Ctx, token: Token, raw: str) -> TokenIssued:
    return TokenIssued(**_out(ctx, token).model_dump(), token=raw)


@router.post("/workspaces/{workspace_id}/tokens", response_model=TokenIssued, status_code=201)
def issue_token(workspace_id: str, body: TokenCreate, ctx: TokensWrite) -> TokenIssued:
    token, raw = service.issue(ctx, workspace_id, body)
    return _issued(ctx, token, raw)


@router.get("/workspaces/{workspace_id}/tokens", response_model=Page[TokenOut])
def list_tokens(
    workspace_id: str,
    ctx: TokensRead,
    cursor: str | None = None,
    limit: Annotated[PageLimit, Query()] = 100,
    include_revoked: bool = False,
) -> Page[TokenOut]:
    rows = service.list_for_workspace(
        ctx, workspace_id, after=cursor, limit=limit, include_revoked=include_revoked
    )
    return Page[TokenOut](
        items=[_out(ctx, row) for row in rows], next_cursor=next_cursor(rows, limit)
    )


@router.get("/tokens/{accessor}", response_model=TokenOut)
def get_token(accessor: str, ctx: TokensRead) -> TokenOut:
    return _out(ctx, service.get(ctx, accessor))


@router.post("/tokens/{accessor}/revoke", response_model=TokenRevoked)
def revoke_token(accessor: str, ctx: TokensWrite, body: TokenRevoke | None = None) -> TokenRevoked:
    revoked = service.revoke(ctx, accessor, body.reason if body else "")
    return TokenRevoked(accessor=accessor, revoked=revoked)


@router.post("/tokens/{accessor}/suspend", response_model=TokenSuspended)
def suspend_token(accessor: str, body: TokenSuspend, ctx: TokensWrite) -> TokenSuspended:
    """Stop the token and its live descendants authenticating, until resumed."""
    return TokenSuspended(accessor=accessor, suspended=service.suspend(ctx, accessor, body.reason))


@router.post("/tokens/{accessor}/resume", response_model=TokenResumed)
def resume_token(accessor: str, ctx: TokensWrite) -> TokenResumed:
    """Undo a suspension: the token and the descendants that suspension suspended."""
    return TokenResumed(accessor=accessor, resumed=service.resume(ctx, accessor))


@router.post("/tokens/{accessor}/rotate", response_model=TokenIssued)
def rotate_token(accessor: str, ctx: TokensWrite, body: TokenRotate | None = None) -> TokenIssued:
    token, raw = service.rotate(ctx, accessor, body.overlap_seconds if body else None)
    return _issued(ctx, token, raw)


@router.post("/tokens/leak-check", response_model=LeakCheckResults)
def check_leaked_tokens(body: LeakCheck, ctx: Authenticated) -> LeakCheckResults:
    """Any credential may ask: holding a leaked token is authority enough to check or revoke it.
    The answer names each token by its SHA-256 only; the body is never logged."""
    return LeakCheckResults(results=service.check_leaked(ctx, body.tokens, revoke=body.revoke))
