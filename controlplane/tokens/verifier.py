"""Turns a presented scoped token into a TokenGrant. This is the hot path of every request.

Order matters: the format and checksum are checked before anything else, so garbage never
reaches the database; then the cache; only a miss costs one indexed query, which finds the
token in any state so that a refusal can say why (`Unauthenticated.reason`) and whose token it
was (`Unauthenticated.grant`) to the access log. The caller's answer is the same whatever the
reason.
"""

import ipaddress
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from controlplane.auth.principal import TokenGrant
from controlplane.db import transaction
from controlplane.errors import Forbidden, ServiceUnavailable, Unauthenticated
from controlplane.kit.clock import utcnow
from controlplane.kit.epoch_cache import EpochCache
from controlplane.observability import CACHE_HITS, CACHE_MISSES
from controlplane.tokens import repository
from controlplane.tokens.format import is_well_formed, secret_hmac
from controlplane.tokens.models import Token, TokenSecret
from controlplane.tokens.state import token_state
from controlplane.tokens.usage import UsageTracker

# Delegated grants share the token cache (and its revocation epoch) under keys no HMAC digest
# can take: digests are hex.
_DELEGATED = "delegated:"


def grant_from_rows(token: Token, secret: TokenSecret) -> TokenGrant:
    return grant_from_token(token, secret.valid_until)


def grant_from_token(token: Token, secret_valid_until: datetime | None = None) -> TokenGrant:
    return TokenGrant(
        token_id=token.id,
        accessor=token.accessor,
        workspace_id=token.workspace_id,
        agent_id=token.agent_id,
        user_id=token.user_id,
        scopes=frozenset(token.scopes),
        expires_at=token.expires_at,
        secret_valid_until=secret_valid_until,
        use_limit=token.use_limit,
        cidrs=tuple(token.cidrs or ()),
    )


def ip_allowed(cidrs: tuple[str, ...], client_ip: str | None) -> bool:
    if not cidrs:
        return True
    if client_ip is None:
        return False
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d.
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


class TokenVerifier:
    def __init__(
        self,
        hmac_key: bytes,
        session_factory: Callable[[], Session],
        cache: EpochCache[str, TokenGrant],
        usage: UsageTracker,
    ) -> None:
        self._key = hmac_key
        self._session_factory = session_factory
        self.cache = cache
        self._usage = usage

    def digest(self, raw: str) -> str:
        return secret_hmac(self._key, raw)

    def verify(self, raw: str, client_ip: str | None) -> TokenGrant:
        digest = self._digest_of_well_formed(raw)
        grant = self.cache.get(digest)
        if grant is None:
            CACHE_MISSES.inc()
            grant = self._load(digest)
        else:
            CACHE_HITS.inc()
        self._admit(grant, client_ip)
        if grant.use_limit is not None and not self._consume(grant.token_id):
            raise Unauthenticated("use_limit_spent", grant)
        return grant

    def verify_without_io(self, raw: str, client_ip: str | None) -> TokenGrant | None:
        """The warm path for async callers: the cache's answer, or None when only `verify`
        (which may touch the database) can decide. Never blocks the event loop."""
        grant = self.cache.get(self._digest_of_well_formed(raw))
        if grant is None or grant.use_limit is not None:
            return None
        CACHE_HITS.inc()
        self._admit(grant, client_ip)
        return grant

    def verify_delegated(self, token_id: str) -> TokenGrant:
        """A token a run acts for: still live? The runtime credential proved the rest when the
        run began; this keeps revocation and suspension immediate for the run's model calls."""
        key = _DELEGATED + token_id
        grant = self.cache.get(key)
        if grant is None:
            generation = self.cache.generation
            try:
                with transaction(self._session_factory, read_only=True) as session:
                    token = repository.get(session, token_id)
            except OperationalError as error:
                raise ServiceUnavailable("credential store unavailable") from error
            if token is None:
                raise Unauthenticated("unknown")
            grant = grant_from_token(token)
            state = token_state(token, None, utcnow())
            if state != "live":
                raise Unauthenticated(state, grant)
            self.cache.put(key, grant, generation)
        if grant.expires_at <= utcnow():
            raise Unauthenticated("expired", grant)
        return grant

    def delegated_without_io(self, token_id: str) -> TokenGrant | None:
        grant = self.cache.get(_DELEGATED + token_id)
        return grant if grant is not None and grant.expires_at > utcnow() else None

    def _digest_of_well_formed(self, raw: str) -> str:
        if not is_well_formed(raw):
            raise Unauthenticated("malformed")
        return secret_hmac(self._key, raw)

    def _admit(self, grant: TokenGrant, client_ip: str | None) -> None:
        """Checks that hold on every use, cached or not."""
        now = utcnow()
        if grant.expires_at <= now or (
            grant.secret_valid_until is not None and grant.secret_valid_until <= now
        ):
            raise Unauthenticated("expired", grant)
        if not ip_allowed(grant.cidrs, client_ip):
            raise Forbidden("this token may not be used from this address", code="ip_not_allowed")
        self._usage.touch(grant.token_id, client_ip, now)

    def _load(self, digest: str) -> TokenGrant:
        """One query in any state: a live token is cached; any other is refused with why."""
        generation = self.cache.generation
        try:
            with transaction(self._session_factory, read_only=True) as session:
                found = repository.find_by_secrets(session, (digest,)).get(digest)
        except OperationalError as error:
            # A database outage is an outage, not a wave of 401s that clients treat as final.
            raise ServiceUnavailable("credential store unavailable") from error
        if found is None:
            raise Unauthenticated("unknown")
        grant = grant_from_rows(*found)
        state = token_state(*found, utcnow())
        if state != "live":
            raise Unauthenticated(state, grant)
        self.cache.put(digest, grant, generation)
        return grant

    def _consume(self, token_id: str) -> bool:
        with transaction(self._session_factory) as session:
            return repository.consume_use(session.connection(), token_id)


def networks_within(children: list[str], parents: list[str]) -> bool:
    """Every child network lies inside one of the parent networks (empty child: inherits)."""
    parent_networks = [ipaddress.ip_network(cidr, strict=False) for cidr in parents]
    return all(
        any(_subnet_of(ipaddress.ip_network(cidr, strict=False), p) for p in parent_networks)
        for cidr in children
    )


def _subnet_of(
    child: ipaddress.IPv4Network | ipaddress.IPv6Network,
    parent: ipaddress.IPv4Network | ipaddress.IPv6Network,
) -> bool:
    if isinstance(child, ipaddress.IPv4Network) and isinstance(parent, ipaddress.IPv4Network):
        return child.subnet_of(parent)
    if isinstance(child, ipaddress.IPv6Network) and isinstance(parent, ipaddress.IPv6Network):
        return child.subnet_of(parent)
    return False
