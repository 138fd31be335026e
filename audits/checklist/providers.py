"""Provider-credential check: every stored key is an envelope that opens with the data key.

Each row is opened exactly as the proxy opens it (`providers.service.resolve_credential`, with
the active or a retired master key), so a row that holds plaintext, or anything else that is not
an authentic envelope bound to that row, fails. The key that comes out must also be the key the
row names (its fingerprint), and must not sit in clear in the row's `base_url`. Nothing of a
key reaches the explanation: rows are named by id, workspace, provider and agent.

This check reads through the providers repository, not its service: it runs as the system, with no
principal to authorize, and asks about the whole instance.
"""

from audits.checklist.context import (
    Check,
    CheckContext,
    Outcome,
    failed,
    listing,
    not_applicable,
    passed,
    plural,
)
from controlplane.errors import ConfigurationError
from controlplane.providers import repository as providers_repository
from controlplane.providers import service as providers
from controlplane.providers.models import ProviderCredential


def _name(row: ProviderCredential) -> str:
    scope = f"agent {row.agent_id}" if row.agent_id else "workspace default"
    return f"{row.id} ({row.provider}, workspace {row.workspace_id}, {scope})"


def _problem(ctx: CheckContext, row: ProviderCredential) -> str | None:
    try:
        resolved = providers.resolve_credential(
            ctx.session, ctx.container, row.workspace_id, row.agent_id, row.provider
        )
    except ConfigurationError as error:
        # Its message names the row and master key ids, never key material.
        return f"{_name(row)}: does not open with the data key ({error.message})"
    if resolved is None or resolved.agent_id != row.agent_id:
        return f"{_name(row)}: the proxy would not resolve this row"
    if providers.fingerprint(resolved.api_key) != row.fingerprint:
        return f"{_name(row)}: opens to a key other than the one its fingerprint names"
    if row.base_url and resolved.api_key in row.base_url:
        return f"{_name(row)}: the key is stored in clear in its base_url"
    return None


def provider_credentials_encrypted(ctx: CheckContext) -> Outcome:
    rows = providers_repository.list_all(ctx.session)
    if not rows:
        return not_applicable("no provider credential is stored")
    problems = [problem for row in rows if (problem := _problem(ctx, row)) is not None]
    counted = plural(len(rows), "provider credential")
    if problems:
        return failed(
            f"{len(problems)} of {counted} are not stored only as an envelope under the data "
            f"key: {listing(problems)}"
        )
    key_ids = sorted({row.key_id for row in rows})
    return passed(
        f"all {counted} open with the data key (master key ids {', '.join(key_ids)}) to the key "
        "their fingerprint names; none is stored in clear"
    )


CHECKS: dict[str, Check] = {"provider_credentials_encrypted": provider_credentials_encrypted}
