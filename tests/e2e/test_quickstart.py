"""The quickstart as a new operator runs it: serve, get the admin token once, use it."""

import re
from pathlib import Path

from tests.e2e.harness import Server, environment, run_cli

TOKEN = re.compile(r"gth_[0-9A-Za-z]{36}")


def test_first_start_prints_the_admin_token_once(tmp_path: Path) -> None:
    env = environment(tmp_path / "home", None)
    with Server(env, tmp_path) as first:
        printed = TOKEN.findall(first.stdout)
        assert len(printed) == 1
        admin_token = printed[0]
        with first.client(admin_token) as api:
            me = api.get("/v1/me")
            assert me.status_code == 200
            assert me.json()["user"]["username"] == "admin"
            assert [ws["name"] for ws in me.json()["workspaces"]] == ["default"]
            assert api.get("/healthz").json() == {"status": "ok"}

    # A restart reuses the store and keys: no second token, and the first one still works.
    with Server(env, tmp_path) as second:
        assert TOKEN.findall(second.stdout) == []
        with second.client(admin_token) as api:
            assert api.get("/v1/me").status_code == 200

    again = run_cli(env, "init")
    assert again.returncode == 1
    assert "already initialised" in again.stderr
    assert "Traceback" not in again.stderr
    assert TOKEN.search(again.stdout + again.stderr) is None


def test_key_files_and_store_are_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run_cli(environment(home, None), "init", "--json")
    assert result.returncode == 0, result.stderr
    private = [
        home / "gatehouse.db",
        *(home / "keys").rglob("*.key"),
        *(home / "keys").rglob("*.pem"),
    ]
    assert len(private) >= 4
    for path in private:
        assert path.stat().st_mode & 0o077 == 0, path


def test_placeholder_secrets_are_refused_outside_dev_mode(tmp_path: Path) -> None:
    home = tmp_path / "home"
    refused = run_cli(environment(home, None, GATEHOUSE_TOKEN_HMAC_KEY="changeme"), "init")
    assert refused.returncode == 1
    assert "placeholder" in refused.stderr
    assert "Traceback" not in refused.stderr

    allowed = run_cli(
        environment(home, None, GATEHOUSE_TOKEN_HMAC_KEY="changeme", GATEHOUSE_DEV_MODE="true"),
        "init",
        "--json",
    )
    assert allowed.returncode == 0, allowed.stderr
