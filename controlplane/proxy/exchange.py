"""What one proxied request learned, for the caller's response and the access log."""

import time
from dataclasses import dataclass
from datetime import datetime

from controlplane.access_log.records import AccessRecord, Decision
from controlplane.auth.principal import TokenGrant
from controlplane.policies import service as policies
from controlplane.proxy.usage import UsageReader


@dataclass
class Exchange:
    """What one proxied request learned, for the caller's response and the access log."""

    started: float
    ts: datetime
    request_id: str
    method: str
    path: str
    client_ip: str | None
    user_agent: str | None
    grant: TokenGrant | None = None
    upstream: str | None = None
    model: str | None = None
    status: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    streamed: bool = False
    ttfb_ms: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    error: str | None = None
    admission: policies.Admission | None = None
    begun: bool = False
    finished: bool = False

    def take_usage(self, usage: UsageReader) -> int:
        """Read the usage seen in the stream into the record; returns the tokens used."""
        usage.finish()
        self.tokens_in, self.tokens_out = usage.tokens_in, usage.tokens_out
        return (usage.tokens_in or 0) + (usage.tokens_out or 0)

    def record(
        self, decision: Decision, reason: str | None = None, *, refused: TokenGrant | None = None
    ) -> AccessRecord:
        """`refused`: the token a refused credential turned out to be (revoked, suspended, …),
        named when the request got no grant of its own. Accessors are not secrets."""
        grant = self.grant or refused
        return AccessRecord(
            ts=self.ts,
            request_id=self.request_id,
            token_accessor=grant.accessor if grant else None,
            workspace_id=grant.workspace_id if grant else None,
            agent_id=grant.agent_id if grant else None,
            user_id=grant.user_id if grant else None,
            client_ip=self.client_ip,
            user_agent=self.user_agent,
            method=self.method,
            upstream=self.upstream,
            path=self.path,
            model=self.model,
            status=self.status,
            decision=decision,
            reason=reason,
            latency_ms=(time.perf_counter() - self.started) * 1000,
            ttfb_ms=self.ttfb_ms,
            bytes_in=self.bytes_in,
            bytes_out=self.bytes_out,
            tokens_in=self.tokens_in,
            tokens_out=self.tokens_out,
            streamed=self.streamed,
            error=self.error,
        )
