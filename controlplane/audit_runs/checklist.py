"""The threat-model checklist as a workspace sees it, and the attestations for its manual items.

An attestation is a person's signed-off claim that a manual item holds ("backups were restored
in a drill"), with evidence and a mandatory expiry. The next run's checklist counts it; the
checklist view shows each item's latest result beside its current attestation.
"""

from collections.abc import Sequence

from audits.checklist import ChecklistError, ChecklistItem, load_checklist
from audits.model import CheckResult
from controlplane.audit_events import service as audit
from controlplane.audit_runs import records, repository
from controlplane.audit_runs.models import AuditAttestation
from controlplane.audit_runs.schemas import AttestationCreate, ChecklistEntryOut
from controlplane.audit_runs.validation import expiry, invalid
from controlplane.auth.scopes import Scope
from controlplane.context import Ctx
from controlplane.errors import ConfigurationError
from controlplane.identity import service as identity
from controlplane.kit.clock import utcnow
from controlplane.kit.ids import new_id


def unavailable(error: ChecklistError) -> ConfigurationError:
    return ConfigurationError(f"the threat-model checklist cannot be loaded: {error}")


def checklist_items() -> list[ChecklistItem]:
    try:
        return load_checklist()
    except ChecklistError as error:
        raise unavailable(error) from None


def checklist(ctx: Ctx, workspace_id: str) -> list[ChecklistEntryOut]:
    identity.workspace_for(ctx, workspace_id, Scope.AUDIT_READ)
    now = utcnow()
    latest = {
        row.item_id: row for row in repository.latest_check_results(ctx.session, workspace_id)
    }
    attested: dict[str, AuditAttestation] = {}
    for row in repository.list_attestations(ctx.session, workspace_id, unexpired_at=now):
        # The most recent unexpired attestation of each item (rows come oldest first).
        attested[row.item_id] = row
    entries = []
    for item in checklist_items():
        result = latest.get(item.id)
        attestation = attested.get(item.id)
        entries.append(
            ChecklistEntryOut(
                id=item.id,
                title=item.title,
                severity=item.severity.value,
                kind=item.kind.value,
                threats=list(item.threats),
                asvs=list(item.asvs),
                latest=CheckResult.model_validate(result.result) if result else None,
                latest_run_id=result.run_id if result else None,
                attestation=records.attestation_out(attestation, now) if attestation else None,
            )
        )
    return entries


def attest(ctx: Ctx, workspace_id: str, body: AttestationCreate) -> AuditAttestation:
    identity.workspace_for(ctx, workspace_id, Scope.AUDIT_RUN)
    item = next((item for item in checklist_items() if item.id == body.item_id), None)
    if item is None:
        raise invalid("body.item_id", f"no checklist item {body.item_id}")
    if item.manual is None:
        raise invalid("body.item_id", f"{item.id} is checked automatically, not attested")
    now = utcnow()
    row = AuditAttestation(
        id=new_id("att"),
        workspace_id=workspace_id,
        item_id=item.id,
        attested_by=ctx.require_principal().actor_id,
        attested_at=now,
        evidence=body.evidence,
        expires_at=expiry(ctx, body.expires_at, now),
    )
    repository.add(ctx.session, row)
    audit.record(
        ctx,
        "audit.attestation.create",
        target_type="audit_attestation",
        target_id=row.id,
        workspace_id=workspace_id,
        details={"item_id": item.id, "expires_at": row.expires_at.isoformat()},
    )
    return row


def list_attestations(ctx: Ctx, workspace_id: str) -> Sequence[AuditAttestation]:
    """Every attestation made here, expired ones included."""
    identity.workspace_for(ctx, workspace_id, Scope.AUDIT_READ)
    return repository.list_attestations(ctx.session, workspace_id)
