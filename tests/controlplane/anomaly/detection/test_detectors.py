"""Each detector on a small hand-built frame: it fires on its pattern at the threshold and stays
quiet one step below it."""

from datetime import timedelta
from typing import Any

import pytest

from controlplane.anomaly.detection import Alert, Baselines, DetectionConfig, Severity, scan
from tests.controlplane.anomaly.detection.records import (
    AGENT,
    HOME_IP,
    MONDAY,
    NOON,
    TOKEN,
    WINDOW,
    WORKSPACE,
    burst,
    frame,
    refused,
    row,
    windows,
)

# Small baselines, so a token has one after ten windows of five requests.
CONFIG_OVERRIDES = {
    "baseline_min_windows": 5,
    "baseline_min_events": 20,
    "baseline_min_hours": 0,
    "warmup_events": 20,
    "off_hours_min_events": 100,
}
CONFIG = DetectionConfig.with_overrides(CONFIG_OVERRIDES)
HISTORY_START = NOON - 10 * WINDOW


def found(detector: str, *groups: list[dict[str, Any]]) -> list[Alert]:
    result = scan(frame(*groups), Baselines.empty(), CONFIG)
    return [alert for alert in result.alerts if alert.detector == detector]


def history(**fields: Any) -> list[dict[str, Any]]:
    """Ten windows of five requests before NOON: the token's usual peak is 5 a window."""
    return windows(HISTORY_START, 10, 5, **fields)


@pytest.mark.parametrize(("requests", "fires"), [(60, True), (59, False)])
def test_rate_spike(requests: int, fires: bool) -> None:
    alerts = found("rate_spike", history(), burst(NOON, requests))

    assert bool(alerts) is fires
    if fires:
        (alert,) = alerts
        assert (alert.entity, alert.token_accessor, alert.workspace_id) == (TOKEN, TOKEN, WORKSPACE)
        assert alert.window_start == NOON
        assert alert.window_end == NOON + WINDOW
        assert alert.score == 12.0
        assert alert.severity is Severity.HIGH
        assert alert.evidence_count == 60
        assert len(alert.evidence) == CONFIG.max_evidence
        assert alert.explanation == (
            f"{TOKEN} made 60 requests in 5 minutes; its usual peak is 5 (median 5)."
        )


def test_a_token_younger_than_a_day_has_no_baseline_yet() -> None:
    young = DetectionConfig.with_overrides({**CONFIG_OVERRIDES, "baseline_min_hours": 24})
    grown = [*windows(NOON - timedelta(days=1), 10, 5), *history()]

    early = scan(frame(history(), burst(NOON, 60)), Baselines.empty(), young).alerts
    later = scan(frame(grown, burst(NOON, 60)), Baselines.empty(), young).alerts

    assert early == []
    assert [alert.detector for alert in later] == ["rate_spike"]


def test_new_network_is_high_alone_and_critical_with_a_burst() -> None:
    known = burst(HISTORY_START, 20)

    (single,) = found("new_network", known, burst(NOON, 5, client_ip="203.0.113.9"))
    (stolen,) = found("new_network", known, burst(NOON, 30, client_ip="203.0.113.9"))

    assert single.severity is Severity.HIGH
    assert stolen.severity is Severity.CRITICAL
    assert single.evidence_count == 5
    assert stolen.evidence_count == 30
    assert {record["client_ip"] for record in stolen.evidence} == {"203.0.113.9"}
    assert stolen.token_accessor == TOKEN
    assert "1 network (203.0.113.0/24)" in stolen.explanation
    assert "after 20 requests" in stolen.explanation


def test_new_network_stays_quiet_in_warmup_and_in_a_known_network() -> None:
    warming = found(
        "new_network", burst(HISTORY_START, 19), burst(NOON, 5, client_ip="203.0.113.9")
    )
    same_network = found(
        "new_network", burst(HISTORY_START, 20), burst(NOON, 5, client_ip="10.1.1.77")
    )

    assert warming == []
    assert same_network == []


@pytest.mark.parametrize(("addresses", "fires"), [(8, True), (7, False)])
def test_many_ips(addresses: int, fires: bool) -> None:
    spread = [
        row(NOON + timedelta(seconds=i), client_ip=f"10.1.1.{10 + i}") for i in range(addresses)
    ]

    alerts = found("many_ips", history(), spread)

    assert bool(alerts) is fires
    if fires:
        assert alerts[0].score == 8.0
        assert alerts[0].severity is Severity.HIGH
        assert "8 distinct IP addresses" in alerts[0].explanation


@pytest.mark.parametrize(("agents", "fires"), [(6, True), (5, False)])
def test_many_user_agents(agents: int, fires: bool) -> None:
    rotating = [
        row(NOON + timedelta(seconds=i), user_agent=f"Mozilla/5.0 v{i}") for i in range(agents)
    ]

    alerts = found("many_user_agents", history(), rotating)

    assert bool(alerts) is fires
    if fires:
        assert alerts[0].severity is Severity.MEDIUM
        assert "6 distinct user agents" in alerts[0].explanation


@pytest.mark.parametrize(("failures", "fires"), [(20, True), (19, False)])
def test_auth_failure_burst(failures: int, fires: bool) -> None:
    alerts = found("auth_failure_burst", refused(NOON, failures, client_ip="198.51.100.7"))

    assert bool(alerts) is fires
    if fires:
        (alert,) = alerts
        assert (alert.entity_type.value, alert.entity) == ("ip", "198.51.100.7")
        assert alert.workspace_id is None
        assert alert.token_accessor is None
        assert alert.severity is Severity.MEDIUM
        assert alert.evidence_count == 20


@pytest.mark.parametrize(("addresses", "fires"), [(10, True), (9, False)])
def test_credential_stuffing_without_a_workspace(addresses: int, fires: bool) -> None:
    stuffing = [r for i in range(addresses) for r in refused(NOON, 2, client_ip=f"192.0.2.{i + 1}")]

    alerts = found("credential_stuffing", stuffing)

    assert bool(alerts) is fires
    if fires:
        (alert,) = alerts
        assert (alert.entity_type.value, alert.entity, alert.workspace_id) == (
            "workspace",
            "*",
            None,
        )
        assert alert.score == 10.0
        assert alert.evidence_count == 20
        assert "20 failed authentications from 10 distinct IP addresses" in alert.explanation


def test_credential_stuffing_against_a_workspace_names_it() -> None:
    revoked = {
        "token_accessor": TOKEN,
        "workspace_id": WORKSPACE,
        "reason": "unauthenticated:revoked",
    }
    stuffing = [
        r for i in range(10) for r in refused(NOON, 1, client_ip=f"192.0.2.{i + 1}", **revoked)
    ]

    (alert,) = found("credential_stuffing", stuffing)

    assert (alert.entity, alert.workspace_id) == (WORKSPACE, WORKSPACE)


@pytest.mark.parametrize(("paths", "fires"), [(8, True), (7, False)])
def test_permission_probing_by_a_token(paths: int, fires: bool) -> None:
    probes = [
        row(
            NOON + timedelta(seconds=i),
            status=403,
            decision="deny",
            path=f"/v1/admin/{i % paths}?page={i}",
        )
        for i in range(15)
    ]

    alerts = found("permission_probing", history(), probes)

    assert bool(alerts) is fires
    if fires:
        (alert,) = alerts
        assert (alert.entity_type.value, alert.entity, alert.token_accessor) == (
            "token",
            TOKEN,
            TOKEN,
        )
        assert alert.score == 8.0
        assert alert.evidence_count == 15


def test_permission_probing_by_an_address_without_a_token() -> None:
    scan_paths = [f"/.env{i}" for i in range(8)] * 2
    probes = [
        r
        for i, path in enumerate(scan_paths)
        for r in refused(
            NOON + timedelta(seconds=i), 1, status=404, path=path, client_ip="192.0.2.7"
        )
    ]

    (alert,) = found("permission_probing", probes)

    assert (alert.entity_type.value, alert.entity, alert.token_accessor) == (
        "ip",
        "192.0.2.7",
        None,
    )


@pytest.mark.parametrize(("bytes_out", "fires"), [(10_000_000, True), (9_999_999, False)])
def test_exfiltration(bytes_out: int, fires: bool) -> None:
    usual = history(bytes_out=200_000)  # 1 MB a window

    alerts = found("exfiltration", usual, burst(NOON, 5, bytes_out=bytes_out))

    assert bool(alerts) is fires
    if fires:
        (alert,) = alerts
        # 50 MB against a peak floored at 50 MB / 10: a score of 10.
        assert alert.score == 10.0
        assert alert.severity is Severity.HIGH
        assert "received 50.0 MB" in alert.explanation


@pytest.mark.parametrize(
    ("reason", "uses", "severity"),
    [
        ("unauthenticated:revoked", 1, Severity.HIGH),
        ("unauthenticated:suspended", 1, Severity.HIGH),
        ("unauthenticated:expired", 1, Severity.MEDIUM),
        ("unauthenticated:revoked", 20, Severity.CRITICAL),
        ("unauthenticated:use_limit_spent", 1, None),
        ("unauthenticated:unknown", 1, None),
    ],
)
def test_revoked_token_reuse(reason: str, uses: int, severity: Severity | None) -> None:
    dead = {"token_accessor": TOKEN, "workspace_id": WORKSPACE, "agent_id": AGENT, "reason": reason}

    alerts = found("revoked_token_reuse", refused(NOON, uses, **dead))

    assert [alert.severity for alert in alerts] == ([severity] if severity else [])
    if severity:
        assert alerts[0].token_accessor is None  # dead already: nothing to suspend
        assert alerts[0].workspace_id == WORKSPACE


def test_revoked_token_reuse_just_under_a_burst_is_not_critical() -> None:
    dead = {"token_accessor": TOKEN, "workspace_id": WORKSPACE, "reason": "unauthenticated:revoked"}

    (alert,) = found("revoked_token_reuse", refused(NOON, 19, **dead))

    assert alert.severity is Severity.HIGH


def office_days(days: int = 3) -> list[dict[str, Any]]:
    """Five requests at the start of every hour from 9:00 to 16:00 on `days` weekdays."""
    return [
        r
        for day in range(days)
        for hour in range(9, 17)
        for r in burst(MONDAY + timedelta(days=day, hours=hour), 5)
    ]


@pytest.mark.parametrize(("requests", "fires"), [(10, True), (9, False)])
def test_off_hours(requests: int, fires: bool) -> None:
    thursday_night = MONDAY + timedelta(days=3, hours=2)

    alerts = found("off_hours", office_days(), burst(thursday_night, requests))

    assert bool(alerts) is fires
    if fires:
        (alert,) = alerts
        assert alert.severity is Severity.LOW
        assert alert.window_start == thursday_night
        assert "at 02:00-03:00 UTC on a weekday" in alert.explanation
        assert "0 of its 120 earlier requests" in alert.explanation
        assert "active in 8 of its 48" in alert.explanation


def test_off_hours_needs_two_full_days_of_schedule_and_a_schedule() -> None:
    wednesday_night = MONDAY + timedelta(days=2, hours=2)
    round_the_clock = [r for hour in range(72) for r in burst(MONDAY + timedelta(hours=hour), 5)]

    too_early = found("off_hours", office_days(2), burst(wednesday_night, 20))
    no_schedule = found(
        "off_hours", round_the_clock, burst(MONDAY + timedelta(days=3, hours=2), 20)
    )

    assert too_early == []
    assert no_schedule == []


def test_new_model() -> None:
    usual = burst(HISTORY_START, 20)

    (alert,) = found("new_model", usual, burst(NOON, 2, model="gpt-4.1"))
    warming = found("new_model", burst(HISTORY_START, 19), burst(NOON, 2, model="gpt-4.1"))
    known = found("new_model", usual, burst(NOON, 2, model="gpt-4o"))

    assert (alert.entity_type.value, alert.entity, alert.token_accessor) == ("agent", AGENT, TOKEN)
    assert alert.severity is Severity.LOW
    assert alert.evidence_count == 2
    assert "called model gpt-4.1 for the first time (2 requests), after 20 requests" in (
        alert.explanation
    )
    assert warming == []
    assert known == []


def test_new_model_counts_a_new_upstream_and_falls_back_to_the_token() -> None:
    no_agent = {"agent_id": None}
    usual = burst(HISTORY_START, 20, **no_agent)
    moved = burst(
        NOON, 1, upstream="openrouter", path="/proxy/openrouter/api/v1/chat/completions", **no_agent
    )

    (alert,) = found("new_model", usual, moved)

    assert (alert.entity_type.value, alert.entity) == ("token", TOKEN)
    assert "upstream openrouter" in alert.explanation


def test_home_traffic_raises_nothing() -> None:
    steady = windows(MONDAY + timedelta(hours=9), 96, 5, client_ip=HOME_IP)

    assert scan(frame(steady), Baselines.empty(), CONFIG).alerts == []
