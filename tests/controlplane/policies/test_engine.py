"""`engine.merge` and `EffectivePolicy`: pure functions, so no database and one run only."""

from typing import Any

import pytest

from controlplane.policies.engine import (
    RULES,
    WORKSPACE_ONLY,
    WORKSPACE_SETTINGS,
    EffectivePolicy,
    merge,
    window_of,
)
from controlplane.policies.models import ProxyPolicy
from controlplane.policies.schemas import PolicyRules

CEILING = 10 * 1_048_576


def row(agent_id: str | None = None, **rules: Any) -> ProxyPolicy:
    """An unsaved policy row, as the repository would hand it back (lists stay lists)."""
    return ProxyPolicy(workspace_id="ws_1", agent_id=agent_id, **rules)


def test_the_rule_order_is_the_schemas() -> None:
    # The CLI and the API both list the rules in this one order, then the workspace settings.
    assert tuple(PolicyRules.model_fields) == RULES + WORKSPACE_SETTINGS


def test_no_policy_has_no_rules() -> None:
    effective = merge(None, None)
    assert effective == EffectivePolicy()
    assert effective.as_dict() == dict.fromkeys(RULES)
    assert effective.upstream_allowed("openrouter")
    assert effective.model_allowed("anything-at-all")
    assert effective.address_allowed(None)
    assert effective.body_limit(CEILING) == CEILING
    assert not effective.rate_limited


def test_an_override_wins_where_it_sets_a_rule_and_the_workspace_fills_the_rest() -> None:
    workspace = row(
        upstreams=["openai", "anthropic"], models=["gpt-*"], token_rpm=100, max_body_bytes=4096
    )
    override = row("agt_1", models=["gpt-4o-mini"], token_rpm=5, cidrs=["10.0.0.0/8"])
    effective = merge(workspace, override)
    assert effective == EffectivePolicy(
        upstreams=("openai", "anthropic"),
        models=("gpt-4o-mini",),
        token_rpm=5,
        max_body_bytes=4096,
        cidrs=("10.0.0.0/8",),
    )
    # Lists come out of the row as tuples (the policy is cached and shared) and go back as lists.
    assert effective.as_dict()["upstreams"] == ["openai", "anthropic"]
    assert merge(None, override) == EffectivePolicy(
        models=("gpt-4o-mini",), token_rpm=5, cidrs=("10.0.0.0/8",)
    )


def test_workspace_only_rules_in_an_override_are_ignored() -> None:
    assert {"workspace_rpm", "workspace_tpm"} == WORKSPACE_ONLY
    workspace = row(workspace_rpm=600, workspace_tpm=None)
    # The API refuses these on an override; a row that holds them anyway must not count.
    override = row("agt_1", workspace_rpm=1, workspace_tpm=1, token_tpm=50)
    effective = merge(workspace, override)
    assert (effective.workspace_rpm, effective.workspace_tpm, effective.token_tpm) == (
        600,
        None,
        50,
    )
    assert merge(None, override).workspace_rpm is None


@pytest.mark.parametrize(
    ("globs", "model", "allowed"),
    [
        (("gpt-4o*",), "gpt-4o-mini", True),
        (("gpt-4o*",), "gpt-4", False),
        # Anchored at both ends: a glob is the whole name, not a substring.
        (("gpt-4o",), "gpt-4o-mini", False),
        (("gpt-4o",), "my-gpt-4o", False),
        (("claude-?-sonnet",), "claude-3-sonnet", True),
        (("claude-?-sonnet",), "claude-35-sonnet", False),
        (("o[13]-mini",), "o1-mini", True),
        (("o[13]-mini",), "o3-mini", True),
        (("o[13]-mini",), "o2-mini", False),
        (("o[!1]-mini",), "o1-mini", False),
        (("o[!1]-mini",), "o4-mini", True),
        # Regex characters in a glob are literal.
        (("gpt.4",), "gpt-4", False),
        (("gpt.4",), "gpt.4", True),
        (("a+b",), "aab", False),
        # Several globs: any one may match.
        (("claude-*", "gpt-4o*"), "gpt-4o", True),
        (("claude-*", "gpt-4o*"), "mistral-large", False),
        # Case matters: providers treat model names as exact strings.
        (("gpt-4o*",), "GPT-4o", False),
        # No glob at all allows no model.
        ((), "gpt-4o", False),
        ((), "", False),
    ],
)
def test_model_globs(globs: tuple[str, ...], model: str, allowed: bool) -> None:
    assert EffectivePolicy(models=globs).model_allowed(model) is allowed


def test_a_request_naming_no_model_passes_a_model_rule() -> None:
    assert EffectivePolicy(models=("gpt-4o*",)).model_allowed(None)
    assert EffectivePolicy(models=()).model_allowed(None)


def test_upstreams() -> None:
    policy = EffectivePolicy(upstreams=("openai", "runtime"))
    assert policy.upstream_allowed("openai")
    assert policy.upstream_allowed("runtime")
    assert not policy.upstream_allowed("anthropic")
    assert not policy.upstream_allowed("OpenAI")
    assert not EffectivePolicy(upstreams=()).upstream_allowed("openai")


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("10.20.30.40", True),
        ("192.168.1.1", False),
        ("2001:db8:1::5", True),
        ("2001:db9::5", False),
        ("2001:db8::", True),
        ("::1", False),
        ("not-an-address", False),
        (None, False),
    ],
)
def test_addresses_ipv4_and_ipv6(address: str | None, allowed: bool) -> None:
    policy = EffectivePolicy(cidrs=("10.0.0.0/8", "2001:db8::/32"))
    assert policy.address_allowed(address) is allowed


def test_an_empty_address_list_allows_no_address() -> None:
    # Unlike a token's `cidrs: []` (unrestricted): the policy rule is set, and names nothing.
    assert not EffectivePolicy(cidrs=()).address_allowed("10.0.0.1")
    assert EffectivePolicy(cidrs=None).address_allowed("10.0.0.1")


@pytest.mark.parametrize(
    ("max_body_bytes", "limit"),
    [(None, CEILING), (1, 1), (4096, 4096), (CEILING, CEILING), (CEILING * 4, CEILING)],
)
def test_the_body_limit_never_exceeds_the_ceiling(max_body_bytes: int | None, limit: int) -> None:
    assert EffectivePolicy(max_body_bytes=max_body_bytes).body_limit(CEILING) == limit


@pytest.mark.parametrize("rule", ["token_rpm", "token_tpm", "workspace_rpm", "workspace_tpm"])
def test_any_rate_rule_makes_the_policy_rate_limited(rule: str) -> None:
    assert EffectivePolicy(**{rule: 1}).rate_limited
    assert not EffectivePolicy(max_streams_per_token=1, max_body_bytes=1).rate_limited


def test_windows_are_whole_minutes_from_the_epoch() -> None:
    assert window_of(0) == 0
    assert window_of(59.999) == 0
    assert window_of(60) == 1
    assert window_of(1_800_000_000.5) == 30_000_000
