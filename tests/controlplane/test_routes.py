"""Every route is either declared public or guarded by a `Require` dependency.

A route that forgets its `Require(...)` alias would be reachable without a credential; this test
walks every route's dependency tree so such a route fails here before it ships.
"""

from collections.abc import Iterable, Iterator
from typing import Any

import httpx
from fastapi import APIRouter, Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import Route

from controlplane.app import PUBLIC_PATHS, ROUTERS
from controlplane.http.deps import Authenticated, PublicCtx, Require, TokensRead

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def api_routes(routers: Iterable[APIRouter]) -> Iterator[APIRoute]:
    for router in routers:
        for route in router.routes:
            # A nested router or a plain Starlette route would escape this walk: refuse it, so
            # whoever adds one extends the walk instead of silently shrinking it.
            assert isinstance(route, APIRoute), f"unexpected {type(route).__name__} in a router"
            yield route


def _requirements(dependant: Dependant) -> Iterator[Require]:
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, Require):
            yield dependency.call
        yield from _requirements(dependency)


def unguarded_routes(
    routers: Iterable[APIRouter], public_paths: frozenset[str]
) -> list[tuple[str, str]]:
    """(methods, path) of every route that is neither public nor behind a `Require`."""
    return sorted(
        (",".join(sorted(route.methods)), route.path)
        for route in api_routes(routers)
        if route.path not in public_paths and not any(_requirements(route.dependant))
    )


def test_every_route_is_public_or_requires_a_credential() -> None:
    routes = list(api_routes(ROUTERS))
    assert len(routes) >= 20, "the walk found suspiciously few routes"
    assert unguarded_routes(ROUTERS, PUBLIC_PATHS) == []


def test_public_paths_are_few_and_known() -> None:
    # Adding a public path is a security decision: make it visible in review.
    routed = {route.path for route in api_routes(ROUTERS)}
    assert routed & PUBLIC_PATHS == {"/healthz", "/readyz", "/v1/auth/login"}


def test_checker_flags_an_unguarded_route() -> None:
    """Negative control: the checker is not vacuous."""
    router = APIRouter(prefix="/v1")

    @router.get("/leaky")
    def leaky() -> dict[str, str]:
        return {}

    @router.get("/public-ctx-only")
    def public_ctx_only(_ctx: PublicCtx) -> dict[str, str]:
        return {}

    @router.get("/guarded")
    def guarded(_ctx: Authenticated) -> dict[str, str]:
        return {}

    @router.get("/nested")
    def nested(_ctx: TokensRead) -> dict[str, str]:
        return {}

    @router.get("/declared-public")
    def declared_public() -> dict[str, str]:
        return {}

    assert unguarded_routes([router], frozenset({"/v1/declared-public"})) == [
        ("GET", "/v1/leaky"),
        ("GET", "/v1/public-ctx-only"),
    ]


def test_checker_finds_a_require_nested_in_another_dependency() -> None:
    def wrapper(ctx: Authenticated) -> Any:
        return ctx

    router = APIRouter()

    @router.get("/indirect")
    def indirect(_ctx: Any = Depends(wrapper)) -> dict[str, str]:  # noqa: B008 - FastAPI idiom
        return {}

    assert unguarded_routes([router], frozenset()) == []


def test_the_app_mounts_only_routers_and_docs(app: FastAPI) -> None:
    """Nothing is added to the app beside ROUTERS and FastAPI's own documentation routes. (The
    proxy is dispatched by the request middleware and authenticates inside its own ASGI code;
    tests/controlplane/proxy prove it.)

    FastAPI 0.165 wraps each included router in a private `_IncludedRouter` holding
    `original_router`; if a FastAPI upgrade renames it, this test says so rather than passing.
    """
    mounted: list[APIRouter] = []
    for route in app.routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            mounted.append(original)
        else:
            assert isinstance(route, Route), route
            assert route.path in PUBLIC_PATHS, f"{route.path} is mounted outside ROUTERS"
    assert [id(router) for router in mounted] == [id(router) for router in ROUTERS]


def test_openapi_lists_exactly_the_routed_operations(client: httpx.Client) -> None:
    """A route mounted outside ROUTERS (and so outside the check above) shows up here."""
    response = client.get("/openapi.json")
    assert response.status_code == 200, response.text
    documented = {
        (path, method.upper())
        for path, operations in response.json()["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    }
    routed = {
        (route.path, method)
        for route in api_routes(ROUTERS)
        if route.include_in_schema
        for method in route.methods
    }
    assert documented == routed
