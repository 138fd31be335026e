"""One health check of the runtime: `GET /healthz`, and what its answer means."""

from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Health:
    ok: bool
    version: str | None = None
    # Why the check failed, in words safe to show anyone: never the URL or a response body.
    error: str | None = None


async def check(http: httpx.AsyncClient, url: str) -> Health:
    try:
        response = await http.get(f"{url}/healthz")
    except httpx.TimeoutException:
        return Health(ok=False, error="health check timed out")
    except httpx.ConnectError:
        return Health(ok=False, error="health check could not connect")
    except httpx.HTTPError as error:
        return Health(ok=False, error=f"health check failed ({type(error).__name__})")
    return _verdict(response)


def _verdict(response: httpx.Response) -> Health:
    if response.status_code != 200:
        return Health(ok=False, error=f"health check answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("status") != "ok":
        return Health(ok=False, error="health check did not answer status ok")
    version = body.get("version")
    return Health(ok=True, version=None if version is None else str(version))
