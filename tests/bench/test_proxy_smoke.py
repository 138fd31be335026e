"""The proxy benchmark runs end to end in smoke mode. No timing is asserted: machines vary.

It starts real processes (the stub, the bare pass-through, `gatehouse serve`) and drives them
with wrk, so it is skipped, with the reason shown, where wrk is not installed.
"""

import io
import json
import shutil
from pathlib import Path

import pytest

from bench import proxy, proxy_wrk

SMOKE = ["--quick", "--duration", "1", "--streams", "20"]
TARGETS = ["direct", "bare", "gatehouse"]
SUMMARY_KEYS = {"median", "min", "max"}


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("wrk") is None,
    reason="wrk is not installed (Debian: apt-get install -y wrk); the proxy bench needs it",
)
def test_smoke_run_has_no_errors_and_a_complete_report(tmp_path: Path) -> None:
    out = io.StringIO()
    report_path = tmp_path / "report.json"
    code = proxy.main([*SMOKE, "--json", str(report_path)], out=out)
    report = json.loads(report_path.read_text())

    assert report["errors"] == []
    assert report["ok"] is True
    assert code == 0
    assert [target["key"] for target in report["targets"]] == TARGETS
    assert [entry["case"] for entry in report["load"]] == ["json_c16", "sse_c16"]
    for entry in report["load"]:
        assert list(entry["targets"]) == TARGETS
        for key, target in entry["targets"].items():
            assert target["errors"] == 0
            assert set(target["rps"]) == set(target["p50_ms"]) == SUMMARY_KEYS
            assert len(target["runs"]) == 1
            assert target["runs"][0]["requests"] > 0
            assert ("vs_direct" in target) == (key != "direct")
            assert ("vs_bare" in target) == (key == "gatehouse")
    for key in TARGETS:
        ttfb = report["ttfb"]["targets"][key]
        assert ttfb["errors"] == []
        assert ttfb["samples"] == 20
    # Gatehouse reports its own overhead on every proxied answer.
    assert "overhead_header_p50_ms" in report["ttfb"]["targets"]["gatehouse"]
    for key in ("gatehouse", "bare"):
        streams = report["streams"][key]
        assert streams["opened"] == streams["requested"] == 20
        assert streams["error_count"] == 0
        assert streams["chunks_per_stream_while_open"]["min"] >= 1
    assert report["soak"] is None
    assert {check["met"] for check in report["checks"]} <= {True, False, None}
    text = out.getvalue()
    for label in ("Load (wrk)", "SSE time to first byte", "Open SSE streams", "Targets"):
        assert label in text
    assert "no errors" in text


def test_without_wrk_it_says_so_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(proxy, "wrk_path", lambda: None)
    assert proxy.main(SMOKE) == 2
    assert "wrk is not installed" in capsys.readouterr().err


def test_wrk_result_line_is_parsed() -> None:
    line = (
        'WRK_JSON {"requests":200,"duration_us":2000000,"bytes":1000,"connect":0,"read":1,'
        '"write":0,"status":2,"timeout":0,"p50_us":500.0,"p90_us":900.0,"p99_us":1500.0,'
        '"mean_us":600.0,"max_us":3000.0}'
    )
    result = proxy_wrk.parse_output(f"Running 2s test\n{line}\n", connections=16)
    assert result.rps == 100
    assert (result.p50_ms, result.p99_ms) == (0.5, 1.5)
    assert result.error_count == 3
    with pytest.raises(proxy_wrk.WrkError):
        proxy_wrk.parse_output("no result here", connections=16)
