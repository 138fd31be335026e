"""Base pydantic models: requests reject unknown fields, responses read from ORM rows."""

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")]
Description = Annotated[str, Field(max_length=500)]
PageLimit = Annotated[int, Field(ge=1, le=500)]

T = TypeVar("T")


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(ResponseModel, Generic[T]):
    """A keyset page: pass `next_cursor` back as `cursor` until it is null."""

    items: list[T]
    next_cursor: str | None
