"""Provider credentials over HTTP. The key goes in with PUT and never comes back out."""

from typing import Annotated

from fastapi import APIRouter, Query

from controlplane.http.deps import ProvidersRead, ProvidersWrite
from controlplane.kit.pagination import next_cursor
from controlplane.kit.schemas import Page, PageLimit
from controlplane.providers import service
from controlplane.providers.schemas import Provider, ProviderCredentialOut, ProviderCredentialSet

router = APIRouter(prefix="/v1", tags=["providers"])

PROVIDERS = "/workspaces/{workspace_id}/providers"
AgentQuery = Annotated[
    str | None, Query(description="An agent's override instead of the workspace default.")
]


@router.get(PROVIDERS, response_model=Page[ProviderCredentialOut])
def list_credentials(
    workspace_id: str,
    ctx: ProvidersRead,
    cursor: str | None = None,
    limit: Annotated[PageLimit, Query()] = 100,
) -> Page[ProviderCredentialOut]:
    rows = service.list_credentials(ctx, workspace_id, cursor, limit)
    return Page[ProviderCredentialOut](
        items=[ProviderCredentialOut.model_validate(row) for row in rows],
        next_cursor=next_cursor(rows, limit),
    )


@router.put(PROVIDERS + "/{provider}", response_model=ProviderCredentialOut)
def set_credential(
    workspace_id: str, provider: Provider, body: ProviderCredentialSet, ctx: ProvidersWrite
) -> ProviderCredentialOut:
    return ProviderCredentialOut.model_validate(
        service.set_credential(ctx, workspace_id, provider, body)
    )


@router.get(PROVIDERS + "/{provider}", response_model=ProviderCredentialOut)
def get_credential(
    workspace_id: str, provider: Provider, ctx: ProvidersRead, agent_id: AgentQuery = None
) -> ProviderCredentialOut:
    return ProviderCredentialOut.model_validate(
        service.get_credential(ctx, workspace_id, provider, agent_id)
    )


@router.delete(PROVIDERS + "/{provider}", status_code=204)
def delete_credential(
    workspace_id: str, provider: Provider, ctx: ProvidersWrite, agent_id: AgentQuery = None
) -> None:
    service.delete_credential(ctx, workspace_id, provider, agent_id)
