"""Base pydantic models: requests reject unknown fields, responses read from ORM rows."""

import ipaddress
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")]
Description = Annotated[str, Field(max_length=500)]
PageLimit = Annotated[int, Field(ge=1, le=500)]


def _networks(value: list[str]) -> list[str]:
    # Normalised ("10.0.0.1/8" → "10.0.0.0/8"), so stored lists compare and display cleanly.
    return [str(ipaddress.ip_network(cidr, strict=False)) for cidr in value]


Networks = Annotated[list[str], Field(max_length=32), AfterValidator(_networks)]

T = TypeVar("T")


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(ResponseModel, Generic[T]):
    """A keyset page: pass `next_cursor` back as `cursor` until it is null."""

    items: list[T]
    next_cursor: str | None
