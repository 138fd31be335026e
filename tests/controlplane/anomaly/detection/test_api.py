"""The public surface the service, the CLI and the README rely on: settings, detectors, alerts."""

import json
from datetime import timedelta

import pytest

from controlplane.anomaly.detection import (
    DETECTORS,
    Alert,
    DetectionConfig,
    EntityType,
    Severity,
)
from tests.controlplane.anomaly.detection.records import NOON, TOKEN, WINDOW, WORKSPACE


def test_overrides_are_typed_and_checked() -> None:
    config = DetectionConfig.with_overrides({"rate_spike_ratio": 4, "warmup_events": 50.0})

    assert config.rate_spike_ratio == 4.0
    assert isinstance(config.rate_spike_ratio, float)
    assert config.warmup_events == 50
    assert isinstance(config.warmup_events, int)
    assert config.window_seconds == DetectionConfig().window_seconds


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rate_spike_ratoi": 4}, "unknown detection setting 'rate_spike_ratoi'"),
        ({"warmup_events": 2.5}, "warmup_events must be a whole number"),
        ({"warmup_events": True}, "warmup_events must be a number"),
        ({"window_seconds": 0}, "window_seconds must be above 0"),
        ({"rate_spike_ratio": -1}, "rate_spike_ratio must be a number of at least 0"),
        ({"baseline_quantile": 1.0}, "must be below 1"),
        ({"ipv4_prefix": 33}, "ipv4_prefix is at most 32"),
    ],
)
def test_bad_overrides_are_a_value_error_that_says_why(
    overrides: dict[str, int | float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        DetectionConfig.with_overrides(overrides)


def test_the_detectors_are_the_documented_eleven() -> None:
    assert [info.name for info in DETECTORS] == [
        "rate_spike",
        "new_network",
        "many_ips",
        "many_user_agents",
        "auth_failure_burst",
        "credential_stuffing",
        "permission_probing",
        "exfiltration",
        "revoked_token_reuse",
        "off_hours",
        "new_model",
    ]
    assert all(info.summary and isinstance(info.severity, Severity) for info in DETECTORS)


def test_severities_rank_from_low_to_critical() -> None:
    assert [severity.rank for severity in Severity] == [1, 2, 3, 4]
    assert Severity("critical").rank > Severity.HIGH.rank


def test_an_alert_as_a_dict_has_a_fixed_order_and_json_values() -> None:
    evidence = ({"ts": "2026-11-02T12:00:00.000000Z", "seq": 7},)
    alert = Alert(
        detector="rate_spike",
        severity=Severity.HIGH,
        entity_type=EntityType.TOKEN,
        entity=TOKEN,
        workspace_id=WORKSPACE,
        token_accessor=TOKEN,
        window_start=NOON,
        window_end=NOON + WINDOW,
        score=12.34567,
        evidence_count=60,
        explanation="a plain sentence",
        evidence=evidence,
    )

    data = alert.to_dict()

    assert list(data) == [
        "detector",
        "severity",
        "entity_type",
        "entity",
        "window_start",
        "window_end",
        "score",
        "evidence_count",
        "explanation",
        "workspace_id",
        "token_accessor",
        "evidence",
    ]
    assert data["window_start"] == "2026-11-02T12:00:00.000000Z"
    assert data["window_end"] == "2026-11-02T12:05:00.000000Z"
    assert (data["severity"], data["entity_type"], data["score"]) == ("high", "token", 12.346)
    assert data["evidence"] == [{"ts": "2026-11-02T12:00:00.000000Z", "seq": 7}]
    assert "evidence" not in alert.to_dict(evidence=False)
    assert alert.key() == ("rate_spike", "token", TOKEN, NOON)
    assert json.loads(json.dumps(data)) == data
    assert alert.window_end - alert.window_start == timedelta(minutes=5)
