"""Classifying provider failures: by the error's type first, the HTTP status only as a fallback."""

import json

import pytest

from runtime.adapters.errors import MAX_MESSAGE, classify, error_from_body, error_from_document
from runtime.contract import Error, ErrorCode, RunFinish
from tests.runtime.adapters import kinds


@pytest.mark.parametrize(
    ("kind", "status", "code", "retryable"),
    [
        # Provider types (Anthropic, OpenAI, Responses), whatever the status says.
        ("rate_limit_error", 429, "rate_limited", True),
        ("rate_limit_exceeded", None, "rate_limited", True),
        ("insufficient_quota", 429, "rate_limited", False),
        ("overloaded_error", 529, "overloaded", True),
        ("overloaded_error", None, "overloaded", True),
        ("invalid_request_error", 400, "invalid_request", False),
        ("not_found_error", 404, "invalid_request", False),
        ("request_too_large", 413, "invalid_request", False),
        ("context_length_exceeded", 400, "invalid_request", False),
        ("authentication_error", 401, "unauthorized", False),
        ("permission_error", 403, "unauthorized", False),
        ("invalid_api_key", 401, "unauthorized", False),
        ("timeout_error", 504, "timeout", True),
        ("vector_store_timeout", None, "timeout", True),
        ("api_error", 500, "provider_error", True),
        ("server_error", None, "provider_error", True),
        ("content_filter", None, "content_filter", False),
        ("image_content_policy_violation", 400, "content_filter", False),
        # The type wins over a misleading status.
        ("overloaded_error", 200, "overloaded", True),
        ("server_error", 400, "provider_error", True),
        # The Gatehouse proxy's own codes.
        ("rate_limited", 429, "rate_limited", True),
        ("unauthenticated", 401, "unauthorized", False),
        ("scope_missing", 403, "unauthorized", False),
        ("model_not_allowed", 403, "unauthorized", False),
        ("upstream_unreachable", 502, "upstream_unreachable", True),
        ("upstream_timeout", 504, "timeout", True),
        ("unavailable", 503, "overloaded", True),
        ("body_too_large", 413, "invalid_request", False),
        ("validation_error", 422, "invalid_request", False),
        # No known type: the status decides.
        (None, 400, "invalid_request", False),
        (None, 401, "unauthorized", False),
        (None, 403, "unauthorized", False),
        (None, 404, "invalid_request", False),
        (None, 409, "invalid_request", False),
        (None, 413, "invalid_request", False),
        (None, 422, "invalid_request", False),
        (None, 429, "rate_limited", True),
        (None, 500, "provider_error", True),
        (None, 502, "upstream_unreachable", True),
        (None, 503, "overloaded", True),
        (None, 504, "timeout", True),
        (None, 529, "overloaded", True),
        ("something_new", 418, "invalid_request", False),
        ("something_new", None, "provider_error", True),
    ],
)
def test_classify(kind: str | None, status: int | None, code: ErrorCode, retryable: bool) -> None:
    assert classify(kind, status) == (code, retryable)


def body_error(status: int, document: object) -> Error:
    events = error_from_body(status, json.dumps(document).encode())
    assert kinds(events) == ["error", "run.finish"]
    finish = events[1]
    assert isinstance(finish, RunFinish)
    assert finish.finish_reason == "error"
    error = events[0]
    assert isinstance(error, Error)
    assert error.after_first_token is False
    return error


def test_openai_body_prefers_the_precise_code() -> None:
    error = body_error(
        429,
        {"error": {"message": "Slow down", "type": "requests", "code": "rate_limit_exceeded"}},
    )
    assert (error.code, error.provider_code, error.message) == (
        "rate_limited",
        "rate_limit_exceeded",
        "Slow down",
    )


def test_anthropic_body() -> None:
    error = body_error(
        401, {"type": "error", "error": {"type": "authentication_error", "message": "bad key"}}
    )
    assert (error.code, error.provider_code, error.message) == (
        "unauthorized",
        "authentication_error",
        "bad key",
    )


def test_gatehouse_proxy_refusal() -> None:
    error = body_error(
        403,
        {"error": "model_not_allowed", "detail": "model gpt-5 is not allowed", "request_id": "r1"},
    )
    assert (error.code, error.provider_code, error.message, error.retryable) == (
        "unauthorized",
        "model_not_allowed",
        "model gpt-5 is not allowed",
        False,
    )


def test_gatehouse_rate_limit_is_retryable() -> None:
    error = body_error(429, {"error": "rate_limited", "detail": "slow down", "request_id": None})
    assert (error.code, error.provider_code, error.retryable) == (
        "rate_limited",
        "rate_limited",
        True,
    )


def test_openrouter_numeric_code() -> None:
    error = body_error(502, {"error": {"code": 502, "message": "upstream down"}})
    assert (error.code, error.provider_code) == ("upstream_unreachable", "502")


def test_non_json_body_keeps_the_status() -> None:
    events = error_from_body(503, b"<html>Service Unavailable</html>")
    error = events[0]
    assert isinstance(error, Error)
    assert (error.code, error.provider_code, error.message) == (
        "overloaded",
        None,
        "<html>Service Unavailable</html>",
    )


def test_empty_body_gets_a_message() -> None:
    error = error_from_body(500, b"")[0]
    assert isinstance(error, Error)
    assert error.code == "provider_error"
    assert "500" in error.message


def test_long_messages_are_truncated() -> None:
    error = error_from_document({"error": {"type": "api_error", "message": "x" * 5000}})
    assert len(error.message) == MAX_MESSAGE


def test_mid_stream_document_without_status() -> None:
    error = error_from_document(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        after_first_token=True,
    )
    assert (error.code, error.retryable, error.after_first_token) == ("overloaded", True, True)
