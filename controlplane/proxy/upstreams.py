"""The upstreams the proxy fronts, and the one place where they differ in how they authenticate."""

from dataclasses import dataclass

from controlplane.config import Settings


@dataclass(frozen=True)
class Upstream:
    name: str
    base_url: str
    key_header: str  # where the provider expects its key

    def auth_header(self, api_key: str) -> tuple[str, str]:
        if self.key_header == "authorization":
            return ("authorization", f"Bearer {api_key}")
        return (self.key_header, api_key)


RUNTIME = "runtime"


def upstreams(settings: Settings) -> dict[str, Upstream]:
    """`/proxy/<name>/<rest>` forwards to `<base_url>/<rest>`."""
    return {
        "openai": Upstream("openai", settings.upstream_openai_url.rstrip("/"), "authorization"),
        "anthropic": Upstream(
            "anthropic",
            settings.upstream_anthropic_url.rstrip("/"),
            "x-api-key",
        ),
        "openrouter": Upstream(
            "openrouter",
            settings.upstream_openrouter_url.rstrip("/"),
            "authorization",
        ),
        # The streaming runtime, managed by `gatehouse serve` or standalone (`runtime_url`).
        RUNTIME: Upstream(RUNTIME, settings.resolved_runtime_url, "authorization"),
    }
