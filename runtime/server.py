"""The runtime's process: uvicorn serving `runtime.app:create_app`, one or more workers.

An app factory string (not an app object) so that each worker process builds its own app,
database engine and HTTP session. Access lines are off: the control plane's proxy already
records every request it forwards, and query strings have no place in another log.
"""

import uvicorn

from controlplane.config import get_settings
from controlplane.observability import configure_logging, init_sentry

APP_FACTORY = "runtime.app:create_app"


def serve(host: str, port: int, workers: int) -> None:
    """Blocks until the server stops (SIGTERM or SIGINT)."""
    settings = get_settings()
    configure_logging(settings)
    init_sentry(settings)
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # The runtime sits on loopback behind the control plane: no forwarded-for trust.
        proxy_headers=False,
        server_header=False,
        date_header=False,
        access_log=False,
        log_config=None,  # keep the redacting root handler configure_logging installed
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=5,
    )
