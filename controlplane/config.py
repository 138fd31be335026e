"""Settings from the environment (prefix GATEHOUSE_) and an optional `.env` file."""

from datetime import UTC
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

# APScheduler 3.x ships no type information (no py.typed, no stubs package).
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from argon2 import PasswordHasher
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_ARGON2_DEFAULTS = PasswordHasher()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GATEHOUSE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    home: Path = Path(".gatehouse")
    database_url: str | None = None
    dev_mode: bool = False
    multi_user: bool = False

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None

    # Key material: an inline value, a file, or (neither) generated under home/keys on first run.
    token_hmac_key: SecretStr | None = None
    token_hmac_key_file: Path | None = None
    data_key: SecretStr | None = None
    data_key_file: Path | None = None
    signing_key_file: Path | None = None

    session_ttl_seconds: Annotated[int, Field(ge=60, le=86_400)] = 900
    jwt_issuer: str = "gatehouse"
    jwt_audience: str = "gatehouse-api"
    signing_key_overlap_seconds: Annotated[int, Field(ge=0)] = 3_600

    token_default_ttl_seconds: Annotated[int, Field(ge=60)] = 30 * 86_400
    token_max_ttl_seconds: Annotated[int, Field(ge=60)] = 365 * 86_400
    token_rotation_overlap_seconds: Annotated[int, Field(ge=0)] = 3_600
    token_cache_size: Annotated[int, Field(ge=0)] = 100_000
    # Revocations reach other processes through a polled epoch; the cache trusts itself only
    # while a poll has succeeded within `token_cache_staleness_seconds`.
    revocation_poll_seconds: Annotated[float, Field(gt=0, le=1.0)] = 0.25
    # Below 2 s with room for the request itself: the cross-process revocation promise.
    token_cache_staleness_seconds: Annotated[float, Field(gt=0, le=1.75)] = 1.5
    last_used_write_interval_seconds: Annotated[int, Field(ge=1)] = 60

    max_body_bytes: Annotated[int, Field(ge=1_024)] = 1_048_576
    login_window_seconds: Annotated[int, Field(ge=1)] = 900
    login_max_failures_per_account: Annotated[int, Field(ge=1)] = 5
    login_max_failures_per_ip: Annotated[int, Field(ge=1)] = 20

    argon2_time_cost: int = _ARGON2_DEFAULTS.time_cost
    argon2_memory_cost: int = _ARGON2_DEFAULTS.memory_cost
    argon2_parallelism: int = _ARGON2_DEFAULTS.parallelism

    # The policy proxy: where each upstream lives (local servers in tests and air-gapped sites).
    upstream_openai_url: str = "https://api.openai.com"
    upstream_anthropic_url: str = "https://api.anthropic.com"
    upstream_openrouter_url: str = "https://openrouter.ai"
    proxy_max_body_bytes: Annotated[int, Field(ge=1_024)] = 10 * 1_048_576
    proxy_connect_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0
    # Between two reads from the upstream, not for the whole answer: long streams are normal.
    proxy_read_timeout_seconds: Annotated[float, Field(gt=0)] = 300.0

    # The access log: how often spooled records move to the database, and how long they stay.
    access_log_flush_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0
    access_log_retention_days: Annotated[int, Field(ge=1)] = 90
    # How often each process prunes records older than that; 0 turns the scheduled prune off
    # (`gatehouse access-log prune` from cron instead). Concurrent prunes serialise in the database.
    access_log_prune_interval_seconds: Annotated[int, Field(ge=0, le=7 * 86_400)] = 3_600

    # The streaming runtime. `gatehouse serve` starts and supervises one as a child process
    # unless `runtime_url` names one already running (`gatehouse runtime serve`, for scale-out).
    runtime_url: str | None = None
    # Off: never start a runtime child here (tests, a site without runs); a `runtime_url` is
    # still health-checked and reported.
    runtime_managed: bool = True
    runtime_host: str = "127.0.0.1"
    runtime_port: Annotated[int, Field(ge=1, le=65_535)] = 8181
    runtime_workers: Annotated[int, Field(ge=1, le=64)] = 1
    runtime_health_interval_seconds: Annotated[float, Field(gt=0, le=60)] = 2.0
    runtime_health_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 2.0
    # Consecutive failed health checks before a child that is still alive counts as hung.
    runtime_unhealthy_after: Annotated[int, Field(ge=1, le=100)] = 3
    runtime_backoff_initial_seconds: Annotated[float, Field(gt=0)] = 0.5
    runtime_backoff_max_seconds: Annotated[float, Field(gt=0)] = 30.0
    # Where the runtime reaches this control plane's proxy for model calls; default: host:port.
    runtime_proxy_url: str | None = None
    # The Ed25519 key that signs the runtime's internal credentials (generated under home/keys
    # when unset), and the public half a runtime verifies them with.
    runtime_signing_key_file: Path | None = None
    runtime_trust_key_file: Path | None = None
    runtime_credential_ttl_seconds: Annotated[int, Field(ge=30, le=86_400)] = 900
    runtime_tool_result_timeout_seconds: Annotated[float, Field(gt=0)] = 300.0
    # The local provider's delay between tokens, so a demo visibly streams; 0 in benchmarks.
    runtime_local_pacing_ms: Annotated[float, Field(ge=0, le=10_000)] = 15.0
    # Service-level objectives for `gatehouse slo report`.
    slo_runtime_ttft_p95_ms: Annotated[float, Field(gt=0)] = 25.0
    slo_error_rate: Annotated[float, Field(gt=0, lt=1)] = 0.01

    # Security audits. The API scans only these trees, never a path a request names.
    audit_scan_paths: list[Path] = Field(default_factory=list)
    # The workspace the scheduled audit is stored in (id or name); default: the oldest one.
    audit_workspace: str | None = None
    # Crontab (UTC) of the scheduled audit: the checklist plus a scan of `audit_scan_paths`.
    # Empty turns it off. Control planes sharing a database run each slot once between them.
    audit_schedule: str = "0 3 * * *"
    # Where a run that introduces a high or critical finding is announced, signed with the secret.
    audit_webhook_url: str | None = None
    audit_webhook_secret: SecretStr | None = None
    audit_suppression_max_days: Annotated[int, Field(ge=1, le=3_650)] = 365
    # An uploaded standalone run carries every finding; a large repository's run is megabytes.
    audit_import_max_bytes: Annotated[int, Field(ge=1_024)] = 64 * 1_048_576
    # The checklist the API and the nightly job run; default: threat-model/checklist.yaml of
    # the source tree (the image sets it, since a built package does not carry that folder).
    audit_checklist_file: Path | None = None

    # Anomaly detection on the access log. The scan runs every this many seconds in each
    # serving process (0: off); processes sharing a database scan each event once between them.
    anomaly_scan_seconds: Annotated[int, Field(ge=0, le=86_400)] = 60
    # At most this many new events per scan; a backlog is worked through scan after scan.
    anomaly_batch_events: Annotated[int, Field(ge=100, le=2_000_000)] = 200_000
    # Detector thresholds over their defaults, as JSON: {"window_seconds": 60, ...}.
    anomaly_detection: dict[str, int | float] = Field(default_factory=dict)
    # New alerts at or above this severity are announced (webhook, Sentry).
    anomaly_notify_min_severity: Literal["low", "medium", "high", "critical"] = "medium"
    anomaly_webhook_url: str | None = None
    anomaly_webhook_secret: SecretStr | None = None
    # The longest a false-positive verdict may silence a detector for one entity.
    anomaly_suppression_max_days: Annotated[int, Field(ge=1, le=365)] = 90

    sentry_dsn: SecretStr | None = None
    sentry_environment: str = "production"
    log_level: str = "INFO"

    @field_validator("argon2_time_cost", "argon2_memory_cost", "argon2_parallelism")
    @classmethod
    def _not_below_library_defaults(cls, value: int, info: object) -> int:
        field = getattr(info, "field_name", "")
        floor = getattr(_ARGON2_DEFAULTS, field.removeprefix("argon2_"))
        if value < floor:
            raise ValueError(f"must be at least argon2-cffi's default ({floor})")
        return value

    @field_validator("access_log_prune_interval_seconds")
    @classmethod
    def _off_or_at_least_a_minute(cls, value: int) -> int:
        # Each prune takes the chain's anchor lock and scans for old rows: not a busy loop.
        if 0 < value < 60:
            raise ValueError("must be 0 (off) or at least 60")
        return value

    @field_validator("audit_schedule")
    @classmethod
    def _crontab_or_off(cls, value: str) -> str:
        value = value.strip()
        if value:
            # Refused at start-up rather than when the scheduler first reads it.
            CronTrigger.from_crontab(value, timezone=UTC)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "Settings":
        if self.token_default_ttl_seconds > self.token_max_ttl_seconds:
            raise ValueError("token_default_ttl_seconds exceeds token_max_ttl_seconds")
        if self.revocation_poll_seconds >= self.token_cache_staleness_seconds:
            raise ValueError("revocation_poll_seconds must be below token_cache_staleness_seconds")
        for name in ("audit", "anomaly"):
            url = getattr(self, f"{name}_webhook_url")
            if url and not url.startswith(("https://", "http://")):
                raise ValueError(f"{name}_webhook_url must be an http:// or https:// URL")
            if url and getattr(self, f"{name}_webhook_secret") is None:
                # An unsigned announcement could be forged by anyone who can reach the receiver.
                raise ValueError(f"{name}_webhook_url needs {name}_webhook_secret")
        return self

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def runtime_signing_key_path(self) -> Path:
        return self.runtime_signing_key_file or self.keys_dir / "runtime-signing.pem"

    @property
    def runtime_trust_key_path(self) -> Path:
        return self.runtime_trust_key_file or self.keys_dir / "runtime-signing.pub"

    @property
    def resolved_runtime_url(self) -> str:
        return (self.runtime_url or f"http://{self.runtime_host}:{self.runtime_port}").rstrip("/")

    @property
    def resolved_runtime_proxy_url(self) -> str:
        if self.runtime_proxy_url:
            return self.runtime_proxy_url.rstrip("/")
        # A wildcard bind is not an address to connect to; loopback reaches it.
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104 - compared, not bound
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'gatehouse.db'}"

    @property
    def is_embedded_store(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
