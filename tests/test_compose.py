"""docker-compose.yml, the Dockerfile and .env.example: valid, consistent and safe by default.

`docker compose config` runs when the docker CLI and its compose plugin are installed (no
engine is needed); otherwise those tests skip and say why. The structural checks of the YAML
need PyYAML, which is installed today only as a dependency of uvicorn[standard]; they skip if
it is missing. Nothing here needs a `.env`: `--env-file .env.example` supplies interpolation.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from controlplane.errors import ConfigurationError
from controlplane.kit.keyfiles import is_placeholder, load_symmetric_key

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
HOME_IN_CONTAINER = "/var/lib/gatehouse"
REQUIRED = (
    "POSTGRES_PASSWORD",
    "GATEHOUSE_DATABASE_URL",
    "GATEHOUSE_TOKEN_HMAC_KEY",
    "GATEHOUSE_DATA_KEY",
)
KEYS = ("GATEHOUSE_TOKEN_HMAC_KEY", "GATEHOUSE_DATA_KEY")


def env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            key, _, value = stripped.partition("=")
            values[key.strip()] = value.strip()
    return values


# --- docker compose config (needs the compose CLI, not an engine) -------------------------


def compose_cli() -> list[str]:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("`docker compose config` not run: the docker CLI is not installed")
    probe = subprocess.run(  # noqa: S603 - fixed arguments, absolute path from shutil.which
        [docker, "compose", "version"], capture_output=True, text=True, timeout=60, check=False
    )
    if probe.returncode != 0:
        said = (probe.stderr.strip() or probe.stdout.strip()).splitlines()
        pytest.skip(
            "`docker compose config` not run: the docker CLI has no compose plugin "
            f"(`docker compose version` said: {said[0] if said else probe.returncode})"
        )
    return [docker, "compose"]


def compose_config(env_file: Path, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [*compose_cli(), "-f", str(COMPOSE), "--env-file", str(env_file)]
    return subprocess.run(  # noqa: S603 - fixed arguments, absolute path from shutil.which
        [*command, "config", "--format", "json"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def environ_without_secrets() -> dict[str, str]:
    """The caller's environment minus anything that would mask what the env file provides."""
    return {key: value for key, value in os.environ.items() if key not in REQUIRED}


def test_compose_config_validates_with_env_example() -> None:
    result = compose_config(ENV_EXAMPLE, environ_without_secrets())
    # stderr only: stdout holds the resolved secrets (placeholders here, real ones with a .env).
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    services = config["services"]
    assert {"postgres", "gatehouse"} <= set(services)
    for name in ("postgres", "gatehouse"):
        assert services[name]["healthcheck"]["test"], f"{name} has no health check"
    assert services["gatehouse"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    environment = services["gatehouse"]["environment"]
    assert environment["GATEHOUSE_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert environment["GATEHOUSE_HOME"] == HOME_IN_CONTAINER


def test_compose_config_refuses_missing_secrets(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = compose_config(empty, environ_without_secrets())
    assert result.returncode != 0
    assert any(name in result.stderr for name in REQUIRED), result.stderr


# --- the compose file's structure (needs PyYAML) ------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed")
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_services_and_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "gatehouse"} <= set(services)
    postgres, gatehouse = services["postgres"], services["gatehouse"]
    assert str(postgres["image"]).startswith("postgres:16")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    probe = " ".join(gatehouse["healthcheck"]["test"])
    assert "python" in probe
    assert "urllib" in probe
    assert "/readyz" in probe
    assert gatehouse["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "ports" not in postgres, "PostgreSQL should not be published on the host"


def test_gatehouse_service(compose: dict[str, Any]) -> None:
    gatehouse = compose["services"]["gatehouse"]
    assert gatehouse["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert gatehouse["env_file"] == [{"path": ".env", "required": False}]
    command = " ".join(gatehouse["command"])
    assert "gatehouse db upgrade" in command
    assert "gatehouse serve --host 0.0.0.0" in command
    assert command.index("db upgrade") < command.index("serve")
    user = str(gatehouse["user"])
    assert user.partition(":")[0] not in {"0", "root"}
    assert gatehouse["environment"]["GATEHOUSE_HOME"] == HOME_IN_CONTAINER
    mounts = {mount.split(":")[1]: mount.split(":")[0] for mount in gatehouse["volumes"]}
    assert mounts[HOME_IN_CONTAINER] in compose["volumes"], "GATEHOUSE_HOME is a named volume"


def test_required_secrets_are_interpolated_with_a_check(compose: dict[str, Any]) -> None:
    text = COMPOSE.read_text()
    checked = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    assert set(REQUIRED) <= checked
    assert checked <= set(env_example()), "every required variable is documented"
    assert "GATEHOUSE_TOKEN_HMAC_KEY" not in str(compose["services"]["postgres"])


# --- .env.example and the Dockerfile (no tools needed) ------------------------------------


def test_env_example_documents_placeholders_the_server_refuses(tmp_path: Path) -> None:
    values = env_example()
    assert set(REQUIRED) <= set(values)
    url = values["GATEHOUSE_DATABASE_URL"]
    assert url == (
        f"postgresql+psycopg://gatehouse:{values['POSTGRES_PASSWORD']}@postgres:5432/gatehouse"
    )
    for name in (*KEYS, "POSTGRES_PASSWORD"):
        assert values[name].startswith("change-me-"), name
        assert is_placeholder(values[name].encode()), name
    for name in KEYS:
        with pytest.raises(ConfigurationError):
            load_symmetric_key(
                name, SecretStr(values[name]), None, tmp_path / "keys", dev_mode=False
            )


def test_dot_env_is_git_ignored() -> None:
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in [line.strip() for line in ignored]


def test_dockerfile() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    bases = [line.split()[1] for line in instructions if line.startswith("FROM ")]
    assert bases
    assert all(base == "python:3.11-slim" for base in bases)
    text = "\n".join(instructions)
    assert "pip install --require-hashes --no-deps -r requirements/run.lock" in text
    assert "pip install --no-deps --no-build-isolation ." in text
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users
    assert users[-1].partition(":")[0] not in {"0", "root"}
    # Never the whole build context: a local .env must not end up in a layer.
    copies = [line.split()[1:] for line in instructions if line.startswith("COPY ")]
    assert all("." not in sources[:-1] for sources in copies)
