"""The per-unit-of-work context handed to services: who, from where, in which transaction."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from controlplane.auth.principal import Principal

if TYPE_CHECKING:
    # Only for the annotation: the container builds services that take a Ctx.
    from controlplane.container import Container


@dataclass(frozen=True)
class Ctx:
    session: Session
    app: "Container"
    principal: Principal | None = None
    client_ip: str | None = None
    request_id: str | None = None

    def require_principal(self) -> Principal:
        if self.principal is None:
            raise RuntimeError("this operation needs an authenticated principal")
        return self.principal
