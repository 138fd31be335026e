"""A file past the per-file time limit is abandoned and the scan goes on.

The slow file is honest work, not a hook: 30,000 credential-like assignments, each of which
sends detect-secrets' per-line pipeline (filters, the keyword plugin, secret filters) through
its Python-level machinery, which takes seconds; the limit is a fraction of that. The worker
scanning it is killed mid-file, and a fresh one finishes the rest of the tree.
"""

from pathlib import Path

from audits.config import AuditConfig
from tests.audits.secrets import fakes
from tests.audits.secrets.conftest import Scanner

SLOW_LINES = 30_000


def test_a_file_over_the_time_limit_is_abandoned_and_the_scan_continues(
    scan: Scanner, tree: Path
) -> None:
    slow = "".join(f'password_{i} = "{fakes.password()}"\n' for i in range(SLOW_LINES))
    fakes.write(tree, "generated/credentials_table.py", slow)
    for index in range(6):
        fakes.write(tree, f"svc/{index}.sh", f"export KEY={fakes.aws_key()}\n")
    config = AuditConfig(file_timeout_seconds=0.5)

    findings, stats = scan(tree, config=config, jobs=1)
    _, again = scan(tree, config=config, jobs=1)

    assert stats.timed_out == ("generated/credentials_table.py",)
    assert sorted(f.path for f in findings) == [f"svc/{i}.sh" for i in range(6)]
    assert (stats.files_seen, stats.files_scanned) == (7, 6)
    # Nothing about the abandoned file was cached: it is tried (and abandoned) again.
    assert (again.timed_out, again.files_cached) == (stats.timed_out, 6)
