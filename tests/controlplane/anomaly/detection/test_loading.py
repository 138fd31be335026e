"""Loading records: the export file (malformed lines skipped and reported) and database rows."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controlplane.access_log.records import FIELD_NAMES, AccessRecord, iso
from controlplane.anomaly.detection import (
    Baselines,
    DetectionConfig,
    Malformed,
    frame_from_records,
    load_jsonl,
    scan,
)
from controlplane.anomaly.detection import jsonl as jsonl_module
from tests.controlplane.anomaly.detection.records import NOON, TOKEN, burst, refused


def export_line(record: dict[str, object]) -> str:
    """A line exactly as `gatehouse access-log export --format jsonl` writes it."""
    values = {name: record[name] for name in FIELD_NAMES}
    return AccessRecord.from_dict(values).to_json_line()


def good_lines(count: int) -> list[str]:
    return [export_line(record) for record in refused(NOON, count, client_ip="198.51.100.7")]


def test_a_clean_export_loads_with_its_line_numbers_and_types(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(good_lines(25)) + "\n")

    loaded = load_jsonl(path)

    assert loaded.events == 25
    assert loaded.malformed == []
    frame = loaded.frame
    assert list(frame.columns) == [*FIELD_NAMES, "line"]
    assert frame["line"].tolist() == list(range(1, 26))
    assert str(frame["ts"].dtype) == "datetime64[us, UTC]"
    assert frame["status"].dtype == "int64"
    assert frame["tokens_out"].isna().all()
    assert frame["token_accessor"].isna().all()


def test_malformed_lines_are_skipped_and_reported_and_the_scan_goes_on(tmp_path: Path) -> None:
    lines = good_lines(27)
    missing_ts = json.loads(lines[3])
    del missing_ts["ts"]
    wrong_type = json.loads(lines[4])
    wrong_type["status"] = "401"
    bad_ts = json.loads(lines[5])
    bad_ts["ts"] = "yesterday"
    lines[1] = '{"ts": "2026-11-02T12:00:00Z", "method": '  # cut short
    lines[2] = "[1, 2, 3]"
    lines[3] = json.dumps(missing_ts)
    lines[4] = json.dumps(wrong_type)
    lines[5] = json.dumps(bad_ts)
    lines[6] = "null"
    lines.insert(8, "")  # a blank line: ignored, but it still counts as a line
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(lines) + "\n")

    loaded = load_jsonl(path)

    assert loaded.malformed == [
        Malformed(2, "not valid JSON"),
        Malformed(3, "not a JSON object"),
        Malformed(4, "ts is missing or not an ISO 8601 timestamp"),
        Malformed(5, "status is not an integer"),
        Malformed(6, "ts is missing or not an ISO 8601 timestamp"),
        Malformed(7, "not a JSON object"),
    ]
    assert loaded.events == 21
    assert loaded.frame["line"].tolist() == [1, 8, *range(10, 29)]
    (alert,) = scan(loaded.frame, Baselines.empty(), DetectionConfig()).alerts
    assert (alert.detector, alert.evidence_count) == ("auth_failure_burst", 21)
    assert alert.evidence[0]["line"] == 1
    assert alert.evidence[2]["line"] == 10
    # No error message carries the line's content.
    assert all("yesterday" not in bad.error and "401" not in bad.error for bad in loaded.malformed)


def test_a_bad_line_only_slows_down_its_own_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonl_module, "BLOCK_BYTES", 2000)  # a few lines per block
    lines = good_lines(40)
    lines[30] = "{oops"
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(lines))  # and no newline at the end

    loaded = load_jsonl(path)

    assert loaded.malformed == [Malformed(31, "not valid JSON")]
    assert loaded.frame["line"].tolist() == [*range(1, 31), *range(32, 41)]
    assert loaded.frame["request_id"].tolist() == [
        json.loads(line)["request_id"] for line in lines if line != "{oops"
    ]


def test_an_empty_file_loads_as_no_events(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")

    loaded = load_jsonl(path)

    assert (loaded.events, loaded.malformed) == (0, [])
    assert scan(loaded.frame, Baselines.empty(), DetectionConfig()).alerts == []


def test_database_rows_and_dicts_give_the_same_frame_and_evidence_keeps_the_seq() -> None:
    records = refused(NOON, 20, client_ip="198.51.100.7")
    # As SQLite hands them back: naive datetimes (UTC), a seq, and columns that are not fields.
    rows = [
        {**record, "ts": record["ts"].replace(tzinfo=None), "seq": index + 1, "hash": "h"}
        for index, record in enumerate(records)
    ]
    dicts = [{**record, "ts": iso(record["ts"])} for record in records]

    from_rows, from_dicts = frame_from_records(rows), frame_from_records(dicts)

    assert from_rows.drop(columns="seq").equals(from_dicts)
    assert from_rows["seq"].tolist() == list(range(1, 21))
    (alert,) = scan(from_rows, Baselines.empty(), DetectionConfig()).alerts
    first = alert.evidence[0]
    assert list(first) == [*FIELD_NAMES, "seq"]
    assert first["seq"] == 1
    assert first["ts"] == iso(records[0]["ts"])
    assert first["token_accessor"] is None
    assert first["status"] == 401
    json.dumps(alert.to_dict())


def test_a_trusted_record_without_a_valid_ts_is_an_error() -> None:
    (record,) = burst(NOON, 1)

    with pytest.raises(ValueError, match="record 0 has no valid ts"):
        frame_from_records([{**record, "ts": "not a time"}])


def test_a_frame_without_the_record_fields_is_refused() -> None:
    frame = frame_from_records(burst(NOON, 2)).drop(columns=["token_accessor"])

    with pytest.raises(ValueError, match="no token_accessor column"):
        scan(frame, Baselines.empty(), DetectionConfig())


def test_timestamps_with_offsets_are_read_as_utc() -> None:
    (record,) = burst(NOON, 1, token_accessor=TOKEN)

    frame = frame_from_records([{**record, "ts": "2026-11-02T14:00:00+02:00"}])

    assert frame["ts"][0].to_pydatetime() == datetime(2026, 11, 2, 12, tzinfo=UTC)
