"""The record contract: exactly the fields, round trips, and no secret in any of them."""

import dataclasses
import json

import pytest

from controlplane.access_log.records import FIELD_NAMES, AccessRecord, sanitize_path
from controlplane.tokens.format import generate_token
from tests.controlplane.access_log.conftest import record

CONTRACT = [
    "ts",
    "request_id",
    "token_accessor",
    "workspace_id",
    "agent_id",
    "user_id",
    "client_ip",
    "user_agent",
    "method",
    "upstream",
    "path",
    "model",
    "status",
    "decision",
    "reason",
    "latency_ms",
    "ttfb_ms",
    "bytes_in",
    "bytes_out",
    "tokens_in",
    "tokens_out",
    "streamed",
    "error",
]


def test_the_record_has_exactly_the_contract_fields_in_order() -> None:
    assert list(FIELD_NAMES) == CONTRACT
    line = record("req-00000001", status=200, latency_ms=12.5, ttfb_ms=3.25).to_json_line()
    data = json.loads(line)
    assert list(data) == CONTRACT
    assert data["ts"] == "2026-11-22T10:00:00.000000Z"
    assert "\n" not in line


def test_json_round_trip_is_exact() -> None:
    original = record(
        "req-00000002",
        token_accessor="acc_" + "a" * 20,
        workspace_id="ws_1",
        agent_id="agt_1",
        user_id="usr_1",
        client_ip="10.0.0.1",
        user_agent="openai-python/1.60",
        model="gpt-4o",
        status=200,
        reason="policy: allowed",
        latency_ms=120.5,
        ttfb_ms=40.0,
        bytes_in=512,
        bytes_out=2048,
        tokens_in=10,
        tokens_out=20,
        streamed=True,
    )
    assert AccessRecord.from_json(original.to_json_line()) == original


def test_values_are_coerced_to_their_declared_types() -> None:
    # 5 and 5.0 hash differently: what the database hands back must be what was hashed.
    coerced = record("req-00000003", latency_ms=5, ttfb_ms=1, status="200")
    assert isinstance(coerced.latency_ms, float)
    assert isinstance(coerced.ttfb_ms, float)
    assert coerced.status == 200


def test_decision_must_be_allow_or_deny() -> None:
    with pytest.raises(ValueError, match="allow or deny"):
        record("req-00000004", decision="maybe")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("/v1/models", "/v1/models"),
        ("/v1/models?limit=5&order=asc", "/v1/models?limit=5&order=asc"),
        ("/v1/x?key=abc&limit=5", "/v1/x?limit=5"),
        ("/v1/x?api_key=abc&apikey=1&API-KEY=2&x-api-key=3", "/v1/x"),
        ("/v1/x?access_token=a&refresh_token=b&token=c", "/v1/x"),
        ("/v1/x?client_secret=a&password=b&passwd=c&pwd=d", "/v1/x"),
        ("/v1/x?auth=a&Authorization=b&signature=c&sig=d&X-Amz-Signature=e", "/v1/x"),
        ("/v1/x?X-Amz-Credential=a&credentials=b&accessKey=c&session=d", "/v1/x"),
        ("/v1/x?keyword=ok&design=ok&monkey=gone", "/v1/x?keyword=ok&design=ok"),
        ("/v1/x?q=hello%20world&a=1#fragment", "/v1/x?q=hello%20world&a=1"),
        ("/v1/x?", "/v1/x"),
    ],
)
def test_sanitize_path_drops_secret_named_parameters(raw: str, clean: str) -> None:
    assert sanitize_path(raw) == clean


def test_sanitize_path_drops_credential_looking_values_and_redacts_the_path() -> None:
    token = generate_token()
    assert sanitize_path(f"/v1/x?q={token}&limit=5") == "/v1/x?limit=5"
    assert sanitize_path(f"/v1/x?q=Bearer%20{token}") == "/v1/x"
    assert sanitize_path("/v1/x?note=sk-abcdefghijklmnopqrstuv") == "/v1/x"
    assert sanitize_path(f"/v1/keys/{token}/usage") == "/v1/keys/[redacted]/usage"
    # Percent-encoding does not smuggle one past.
    encoded = token.replace("g", "%67", 1)
    assert token not in sanitize_path(f"/v1/keys/{encoded}")
    assert "redacted" in sanitize_path(f"/v1/keys/{encoded}")


def test_a_record_never_holds_a_secret_whatever_the_caller_passes() -> None:
    token = generate_token()
    dirty = record(
        "req-00000005",
        path=f"/v1/chat?api_key=abc&x={token}",
        user_agent=f"bot Bearer {token}",
        reason=f"refused {token}",
        error=f"upstream said {token}",
        model=f"gpt-4o {token}",
    )
    line = dirty.to_json_line()
    assert token not in line
    assert "abc" not in line
    assert dirty.path == "/v1/chat"
    # Normalising twice changes nothing: replace() keeps records stable.
    assert dataclasses.replace(dirty) == dirty


def test_values_fit_their_columns() -> None:
    long = record(
        "r" * 200,
        path="/" + "p" * 10_000,
        user_agent="u" * 5_000,
        client_ip="1" * 100,
        model="m\x00" * 200,
    )
    assert len(long.request_id) == 64
    assert len(long.path) == 2048
    assert long.user_agent is not None
    assert len(long.user_agent) == 1024
    assert long.client_ip is not None
    assert len(long.client_ip) == 45
    assert long.model is not None
    assert "\x00" not in long.model
