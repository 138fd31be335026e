"""Request and response shapes for provider credentials. Responses never carry the key."""

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal, get_args
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from controlplane.kit.schemas import RequestModel, ResponseModel

Provider = Literal["openai", "anthropic", "openrouter"]
PROVIDERS: tuple[str, ...] = get_args(Provider)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ProviderCredentialSet(RequestModel):
    api_key: Annotated[SecretStr, Field(min_length=16, max_length=4096)]
    base_url: Annotated[str, Field(max_length=500)] | None = None
    # NULL: the workspace default; otherwise an override for this agent only.
    agent_id: str | None = None

    @field_validator("api_key")
    @classmethod
    def _header_safe(cls, value: SecretStr) -> SecretStr:
        # The key travels upstream in an HTTP header, where CR, LF or spaces would split or
        # corrupt it. The message never repeats the value.
        if not all("!" <= char <= "~" for char in value.get_secret_value()):
            raise ValueError("must be printable ASCII without spaces")
        return value

    @field_validator("base_url")
    @classmethod
    def _safe_upstream(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        # Reading `port` raises ValueError (a validation error) on a malformed or out-of-range one.
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.port == 0:
            raise ValueError("must be an http(s) URL")
        # The key is sent there: in clear only to this machine, and the URL itself is shown in
        # listings, so it must not carry credentials or parameters of its own.
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise ValueError("must use https unless the host is loopback")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not contain credentials")
        if parts.query or parts.fragment:
            raise ValueError("must not contain a query or fragment")
        return value


class ProviderCredentialOut(ResponseModel):
    provider: Provider
    agent_id: str | None
    base_url: str | None
    fingerprint: str
    last4: str
    key_id: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ResolvedCredential:
    """What the proxy injects upstream. The key stays out of repr, and so out of logs."""

    provider: str
    api_key: str = field(repr=False)
    base_url: str | None
    agent_id: str | None  # the override that answered; None for the workspace default
    fingerprint: str
