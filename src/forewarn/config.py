"""Settings, read once from FOREWARN_* environment variables."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FOREWARN_", extra="ignore")

    data_dir: Path = Path("./var")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite at DATA_DIR/forewarn.db"
    )
    secret_key: str | None = Field(
        default=None, description="Signs sessions and encrypts secrets; generated when unset"
    )
    bind: str = "127.0.0.1:8080"
    admin_user: str = "admin"
    admin_password: str | None = None
    max_body_bytes: int = 1024 * 1024
    # An inventory file read by the CLI; over the API max_body_bytes applies first.
    import_max_bytes: int = 16 * 1024 * 1024
    # Login throttling: this many failures within the window lock the user or address out.
    login_max_failures: int = 5
    login_window_seconds: int = 60
    login_lockout_seconds: int = 300
    session_hours: int = 12
    # The all-in-one server runs the scheduled jobs (rollups, retention, offline detection).
    run_jobs: bool = True
    # ... and the poller, which runs every due check (several pollers may share PostgreSQL).
    run_poller: bool = True
    poller_concurrency: int = Field(default=500, ge=1, le=20_000)
    poller_per_host: int = Field(default=16, ge=1, le=10_000)
    # Judge and store check results in a child process (the second core); off: in-process.
    poller_record_in_child: bool = True
    # The recorder child's niceness (0-19): its work can wait a moment, the probes' timing and
    # the API cannot, so on a busy machine the scheduler lets them go first.
    poller_recorder_nice: int = Field(default=10, ge=0, le=19)
    # Discovery never sweeps loopback unless this is set (a lab on one machine).
    discovery_allow_loopback: bool = False
    # Where Nagios plugins may be run from (FOREWARN_NAGIOS_PLUGIN_DIRS='["/a","/b"]').
    nagios_plugin_dirs: list[str] = Field(
        default_factory=lambda: [
            "/usr/lib/nagios/plugins",
            "/usr/lib/monitoring-plugins",
            "/usr/local/lib/nagios/plugins",
        ]
    )
    # How long metric samples are kept, per resolution (raw, 5-minute and 1-hour rollups).
    retention_raw_days: int = Field(default=2, ge=1, le=3650)
    retention_5m_days: int = Field(default=30, ge=1, le=3650)
    retention_1h_days: int = Field(default=730, ge=1, le=36500)
    # A check-in body may inflate to this much; more is refused (a gzip bomb, not a batch).
    checkin_max_bytes: int = 16 * 1024 * 1024
    # Set when served behind TLS so browsers only send the session cookie over HTTPS.
    secure_cookies: bool = False
    # The address people open, e.g. https://forewarn.example.com: links we hand out (such as
    # invitations) start with it. Unset, they start with the address the request came to,
    # which behind a reverse proxy may be an internal one.
    public_url: str | None = None

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("FOREWARN_PUBLIC_URL must be an http:// or https:// address")
        if parts.query or parts.fragment:
            raise ValueError("FOREWARN_PUBLIC_URL takes no query or fragment")
        return value.strip().rstrip("/")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'forewarn.db').resolve()}"

    @cached_property
    def effective_secret_key(self) -> str:
        """The configured key, or one generated once and kept in DATA_DIR/secret.key."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.touch(mode=0o600)
        path.write_text(key)
        return key
