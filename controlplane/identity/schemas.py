"""Request and response shapes for users, workspaces, members, agents and plugins."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from controlplane.auth.scopes import Role
from controlplane.kit.schemas import Description, Name, RequestModel, ResponseModel

Username = Annotated[str, Field(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9._@-]*$")]
Password = Annotated[str, Field(min_length=12, max_length=1024)]


class LoginRequest(RequestModel):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class LoginResponse(ResponseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int


class UserCreate(RequestModel):
    username: Username
    password: Password
    is_admin: bool = False


class PasswordChange(RequestModel):
    current_password: Annotated[str, Field(max_length=1024)] | None = None
    new_password: Password


class UserOut(ResponseModel):
    id: str
    username: str
    is_admin: bool
    disabled_at: datetime | None
    created_at: datetime


class WorkspaceCreate(RequestModel):
    name: Name
    require_plugin_approval: bool = False


class WorkspaceOut(ResponseModel):
    id: str
    name: str
    require_plugin_approval: bool
    created_at: datetime
    role: Role | None = None


class MemberAdd(RequestModel):
    user_id: str | None = None
    username: str | None = None
    role: Role

    @model_validator(mode="after")
    def _one_identifier(self) -> "MemberAdd":
        if (self.user_id is None) == (self.username is None):
            raise ValueError("give exactly one of user_id or username")
        return self


class MemberOut(ResponseModel):
    user_id: str
    username: str
    role: Role
    created_at: datetime


class AgentCreate(RequestModel):
    name: Name
    description: Description = ""


class AgentOut(ResponseModel):
    id: str
    workspace_id: str
    name: str
    description: str
    created_at: datetime


class PluginCreate(RequestModel):
    name: Name
    version: Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9.+_-]+$")]
    tier: Literal["core", "community"]
    enabled: bool = True


class PluginUpdate(RequestModel):
    enabled: bool


class PluginOut(ResponseModel):
    id: str
    agent_id: str
    name: str
    version: str
    tier: Literal["core", "community"]
    enabled: bool
    approval: Literal["not_required", "pending", "approved"]
    approved_by: str | None
    created_at: datetime


class MeOut(ResponseModel):
    kind: Literal["user", "token"]
    user: UserOut
    token_accessor: str | None = None
    workspace_id: str | None = None
    agent_id: str | None = None
    scopes: list[str] | None = None
    workspaces: list[WorkspaceOut]
