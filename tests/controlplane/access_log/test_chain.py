"""The hash chain: verification locates tampering, and retention never breaks it."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import Executable, delete, insert, select, text, update

from controlplane.access_log import repository, service
from controlplane.access_log.chain import entry_hash
from controlplane.access_log.models import ANCHOR, HEAD, AccessLogChain, AccessLogEntry
from controlplane.access_log.records import FIELD_NAMES, AccessRecord
from controlplane.access_log.runtime import prune
from controlplane.db import transaction
from tests.controlplane.access_log.conftest import T0, Database, append, record

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def append_many(database: Database, count: int, start: datetime = T0) -> None:
    append(
        database,
        (record(f"req-{i:08d}", ts=start + timedelta(minutes=i), status=200) for i in range(count)),
    )


def findings(database: Database) -> list[str]:
    with transaction(database.factory, read_only=True) as session:
        return service.verify(session).findings


def tamper(database: Database, *statements: Executable) -> None:
    with database.engine.begin() as connection:
        for statement in statements:
            connection.execute(statement)


def test_an_untouched_chain_verifies(database: Database) -> None:
    assert findings(database) == [], "an empty log is intact"
    append_many(database, 10)
    append_many(database, 0)
    with transaction(database.factory, read_only=True) as session:
        report = service.verify(session)
    assert report.intact
    assert report.checked == 10
    assert report.head.seq == 10
    assert report.head.hash == database.rows()[-1].hash


def test_appending_the_same_entries_again_stores_nothing(database: Database) -> None:
    append_many(database, 5)
    append_many(database, 5)
    assert database.count() == 5
    assert findings(database) == []


def test_a_modified_row_is_named(database: Database) -> None:
    append_many(database, 10)
    tamper(database, update(AccessLogEntry).where(AccessLogEntry.seq == 5).values(status=500))
    assert findings(database) == ["seq 5: contents do not match its hash (modified row)"]


def test_a_value_that_would_be_redacted_is_still_caught(database: Database) -> None:
    # Verification hashes what is stored, not a re-sanitised copy of it.
    append_many(database, 3)
    tamper(
        database,
        update(AccessLogEntry)
        .where(AccessLogEntry.seq == 2)
        .values(path="/v1/chat/completions?api_key=planted"),
    )
    assert findings(database) == ["seq 2: contents do not match its hash (modified row)"]


def test_deleted_rows_are_named(database: Database) -> None:
    append_many(database, 10)
    tamper(database, delete(AccessLogEntry).where(AccessLogEntry.seq.between(4, 6)))
    assert findings(database) == ["seq 4-6: missing before seq 7 (deleted)"]


def test_deleted_rows_at_the_end_are_named(database: Database) -> None:
    append_many(database, 10)
    tamper(database, delete(AccessLogEntry).where(AccessLogEntry.seq >= 9))
    assert findings(database) == ["seq 9-10: missing at the end of the chain (deleted)"]


def test_an_inserted_row_is_named(database: Database) -> None:
    append_many(database, 10)
    row5 = database.rows()[4]
    forged_values = {name: getattr(row5, name) for name in FIELD_NAMES}
    forged_values["request_id"] = "req-forged"
    forged_hash = entry_hash(row5.hash, forged_values)
    # A careful forger renumbers the rows after it, links the forgery to seq 5 and moves the
    # head: only the link from the forgery to the next row can give it away.
    tamper(
        database,
        update(AccessLogEntry).where(AccessLogEntry.seq > 5).values(seq=AccessLogEntry.seq + 100),
        update(AccessLogEntry).where(AccessLogEntry.seq > 100).values(seq=AccessLogEntry.seq - 99),
        insert(AccessLogEntry).values(
            **forged_values, seq=6, entry_id="forged", prev_hash=row5.hash, hash=forged_hash
        ),
        update(AccessLogChain).where(AccessLogChain.name == HEAD).values(seq=11),
    )
    assert findings(database) == [
        "seq 7: prev_hash does not match the hash of seq 6 (a row was inserted or replaced "
        "before it)"
    ]


def test_a_row_appended_past_the_head_and_a_duplicate_seq_are_named(database: Database) -> None:
    append_many(database, 3)
    last = database.rows()[-1]
    values = {name: getattr(last, name) for name in FIELD_NAMES}
    tamper(
        database,
        insert(AccessLogEntry).values(
            **{**values, "ts": last.ts + timedelta(seconds=1)},
            seq=3,
            entry_id="twin",
            prev_hash=last.prev_hash,
            hash=last.hash,
        ),
        insert(AccessLogEntry).values(
            **values,
            seq=4,
            entry_id="extra",
            prev_hash=last.hash,
            hash=entry_hash(last.hash, values),
        ),
    )
    assert findings(database) == [
        "seq 3: a second row with this seq (inserted row)",
        "seq 4: beyond the chain head at seq 3 (inserted row)",
    ]


def test_only_the_first_few_findings_are_reported(database: Database) -> None:
    append_many(database, 20)
    tamper(database, update(AccessLogEntry).values(status=418))
    assert len(findings(database)) == 5


def _months(database: Database) -> list[AccessRecord]:
    """Rows from July to November 2026, one every ten days, flushed in time order."""
    return [
        record(f"req-{i:08d}", ts=datetime(2026, 7, 1, tzinfo=UTC) + timedelta(days=10 * i))
        for i in range(15)
    ]


def test_prune_removes_old_rows_and_verify_still_passes(database: Database) -> None:
    records = _months(database)
    append(database, records)
    result = prune(database.factory, timedelta(days=90), now=NOW)  # cutoff 2026-08-24 12:00
    cutoff = NOW - timedelta(days=90)
    kept = [row.request_id for row in database.rows()]
    assert kept == [r.request_id for r in records if r.ts >= cutoff]
    assert result.anchor.seq == len(records) - len(kept)
    assert findings(database) == []
    with transaction(database.factory, read_only=True) as session:
        assert repository.read_point(session, ANCHOR) == result.anchor

    again = prune(database.factory, timedelta(days=90), now=NOW)
    assert (again.rows, again.partitions, again.anchor) == (0, [], result.anchor)
    append(database, [record("req-after-prune", ts=NOW)])
    assert findings(database) == []


def test_postgresql_drops_whole_months_and_deletes_the_rest(database: Database) -> None:
    append(database, _months(database))
    result = prune(database.factory, timedelta(days=90), now=NOW)  # cutoff 2026-08-24 12:00
    # Six rows go: July 1, 11, 21 and 31, then August 10 and 20.
    assert result.anchor.seq == 6
    if database.engine.dialect.name == "sqlite":
        assert (result.partitions, result.rows) == ([], 6)
        return
    assert (result.partitions, result.rows) == (["access_log_y2026m07"], 2)
    with database.engine.connect() as connection:
        names = connection.execute(
            # This test's schema only: other sessions on the same server have their own.
            text(
                "SELECT tablename FROM pg_tables"
                " WHERE tablename LIKE 'access_log_y%' AND schemaname = current_schema()"
            )
        ).scalars()
        assert sorted(names) == [f"access_log_y2026m{month:02d}" for month in (8, 9, 10, 11)]
    assert findings(database) == []


def test_a_late_old_row_waits_so_the_chain_stays_a_suffix(database: Database) -> None:
    # Replaying a long-dead process's spool can append rows older than rows already stored.
    records = _months(database)
    append(database, records[:10])
    late = record("req-late", ts=datetime(2026, 7, 2, tzinfo=UTC))
    append(database, [late, *records[10:]])
    prune(database.factory, timedelta(days=90), now=NOW)
    kept = [row.request_id for row in database.rows()]
    assert "req-late" in kept, "removing it would cut the chain below rows that stay"
    assert findings(database) == []

    # Once everything flushed before it is old enough, it goes too.
    prune(database.factory, timedelta(days=0), now=NOW + timedelta(days=365))
    assert database.count() == 0
    assert findings(database) == []


def test_sqlite_prunes_in_small_transactions_each_leaving_the_chain_whole(
    database: Database,
) -> None:
    append(database, _months(database))
    result = prune(database.factory, timedelta(days=90), now=NOW, batch_size=2)
    assert result.anchor.seq == 6
    assert findings(database) == []
    with transaction(database.factory, read_only=True) as session:
        first = session.scalar(select(AccessLogEntry.seq).order_by(AccessLogEntry.seq).limit(1))
    assert first == 7


def test_concurrent_flushers_extend_one_unbroken_chain(database: Database) -> None:
    """Processes sharing a database take turns on the chain head: no seq twice, no gap."""

    def flusher(worker: int) -> None:
        for batch in range(10):
            append(
                database,
                (
                    record(f"req-{worker}-{batch}-{i}", ts=T0 + timedelta(seconds=i))
                    for i in range(5)
                ),
            )

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(flusher, range(4)))
    assert [row.seq for row in database.rows()] == list(range(1, 201))
    assert findings(database) == []
