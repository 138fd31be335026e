"""The benchmark runs end to end and proves its claims. No timing is asserted: machines vary."""

import io
import json
from typing import Any

import pytest

from bench import token_verify
from tests.databases import POSTGRES_ENV, postgres_base_url, postgres_required

TINY = ["--seconds", "0.01", "--rounds", "2"]
SUMMARY_KEYS = {"median", "min", "max"}


def run_json(*extra: str) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    code = token_verify.main([*TINY, "--json", *extra], out=out)
    report: dict[str, Any] = json.loads(out.getvalue())
    return code, report


def check_structure(report: dict[str, Any], expected_keys: list[str]) -> dict[str, Any]:
    assert {"environment", "settings", "baseline", "results", "proofs", "ok"} <= set(report)
    assert report["settings"]["rounds"] == 2
    assert set(report["baseline"]["rate"]) == SUMMARY_KEYS
    assert len(report["baseline"]["samples"]) == 2 * len(expected_keys)
    results = {result["key"]: result for result in report["results"]}
    assert list(results) == expected_keys
    for result in results.values():
        assert set(result["rate"]) == SUMMARY_KEYS
        assert set(result["ratio_to_baseline"]) == SUMMARY_KEYS
        assert len(result["samples"]) == len(result["ratio_samples"]) == 2
        assert result["iterations"] > 0
        assert result["argon2_calls"] == result["passwords_calls"] == 0
    return results


def test_json_report_and_proofs() -> None:
    code, report = run_json()
    results = check_structure(report, ["warm", "cold", "session"])

    assert results["warm"]["sql_statements"] == 0
    assert results["session"]["sql_statements"] == 0
    # The SQL counter is live: a cold verification is at least one statement.
    assert results["cold"]["sql_per_verification"] >= 1
    assert [p["name"] for p in report["proofs"] if not p["passed"]] == []
    assert report["ok"] is True
    assert code == 0


def test_table_output() -> None:
    out = io.StringIO()
    assert token_verify.main([*TINY], out=out) == 0
    text = out.getvalue()
    for label in (
        token_verify.BASELINE_LABEL,
        "scoped token, warm (cached)",
        "scoped token, cold (SQLite)",
        "session JWT (EdDSA)",
        "Proof obligations",
        "[PASS] warm path sends no SQL: 0 statements",
        "all proof obligations hold",
    ):
        assert label in text
    assert "[FAIL]" not in text


def test_cold_path_on_postgres() -> None:
    url = postgres_base_url()
    if url is None:
        if postgres_required():
            pytest.fail(f"GATEHOUSE_REQUIRE_POSTGRES is set but {POSTGRES_ENV} is not")
        pytest.skip(f"PostgreSQL run skipped: {POSTGRES_ENV} is not set")
    code, report = run_json("--postgres", url)
    results = check_structure(report, ["warm", "cold", "session", "cold_postgres"])
    assert results["cold_postgres"]["engine"] == "postgresql"
    assert results["cold_postgres"]["sql_per_verification"] >= 1
    assert results["warm"]["sql_statements"] == 0
    assert report["ok"] is True
    assert code == 0
