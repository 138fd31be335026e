"""Checklist fixtures: containers over the suite's real databases, and one check's result.

`committed_container` (tests/conftest.py) gives a database of the test's own where setup really
commits: the checks read the whole instance, so they need a database holding only this test's
rows. `build` makes a container with settings of the test's choosing over the per-test
rolled-back connection, for checks that read settings and files rather than rows.
"""

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from audits.checklist import load_checklist, run_checklist
from audits.model import CheckResult
from controlplane.container import Container
from controlplane.kit.clock import utcnow
from tests.conftest import test_settings

Build = Callable[..., Container]


def result_of(
    container: Container | None, check: str, *, now: datetime | None = None
) -> CheckResult:
    """The result of the repository checklist's item that runs `check`."""
    [item] = [item for item in load_checklist() if item.check == check]
    [result] = run_checklist([item], container=container, attestations=[], now=now or utcnow())
    return result


@pytest.fixture
def build(engine: Engine, session_factory: sessionmaker[Session], tmp_path: Path) -> Build:
    def make(home: Path | None = None, **settings: object) -> Container:
        return Container.build(
            test_settings(home or tmp_path / "home", **settings),
            engine=engine,
            session_factory=session_factory,
        )

    return make
