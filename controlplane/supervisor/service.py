"""The runtime's status as this control plane sees it."""

from typing import TYPE_CHECKING

from controlplane.supervisor.schemas import RuntimeStatus
from controlplane.supervisor.supervisor import not_configured

if TYPE_CHECKING:
    # Only for the annotation: the container holds the supervisor this module reads.
    from controlplane.container import Container


def runtime_status(container: "Container") -> RuntimeStatus:
    if container.runtime is None:
        return not_configured(container.settings)
    return container.runtime.status()
