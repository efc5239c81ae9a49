"""The tables. Every tenant-owned row carries org_id; queries of them go through services.scope."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import DateTime as sa_DateTime
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from forewarn.store.types import UTCDateTime

# Named constraints so alembic migrations are stable and SQLite batch mode can alter them.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    employees: Mapped[int] = mapped_column(Integer, default=0)
    hourly_cost: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    annual_revenue: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    # {"days": [1..7 ISO weekdays], "start": "HH:MM", "end": "HH:MM"}
    business_hours: Mapped[dict[str, Any]] = mapped_column(JSON)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    sites: Mapped[list[Site]] = relationship(back_populates="org", passive_deletes=True)


class Site(Base):
    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_sites_org_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    org: Mapped[Organization] = relationship(back_populates="sites")


class Asset(Base):
    __tablename__ = "assets"
    __table_args__ = (
        UniqueConstraint("org_id", "name", name="uq_assets_org_name"),
        Index("ix_assets_org_kind", "org_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    hostname: Mapped[str] = mapped_column(String(255), default="")
    criticality: Mapped[int] = mapped_column(Integer, default=3)
    owner: Mapped[str] = mapped_column(String(200), default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    purchase_date: Mapped[date | None] = mapped_column(Date)
    warranty_end: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    tag_rows: Mapped[list[AssetTag]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="AssetTag.tag"
    )
    site: Mapped[Site | None] = relationship()

    @property
    def tags(self) -> list[str]:
        return [t.tag for t in self.tag_rows]


class AssetTag(Base):
    __tablename__ = "asset_tags"

    asset_id: Mapped[int] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    # The provider-wide owner sees and manages every organization.
    is_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "org_id", name="uq_memberships_user_org"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]

    user: Mapped[User] = relationship(back_populates="memberships")


class ApiToken(Base):
    """Bearer tokens and web sessions; only a SHA-256 of the secret is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="api")  # api | session
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class Invitation(Base):
    """A link that lets someone set up their own account with a role in one organization."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254), default="")
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class LoginFailure(Base):
    """One failed login, keyed by user name and by address; read by the throttle."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime]


class LoginLockout(Base):
    __tablename__ = "login_lockouts"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    until: Mapped[datetime]


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_org_id_id", "org_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(200), default="")
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32), default="")
    entity_id: Mapped[int | None]
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    address: Mapped[str] = mapped_column(String(64), default="")


# ---- agents (issue 3) --------------------------------------------------------------------------


class EnrollmentToken(Base):
    """Lets machines join an organization (or one of its sites) as agents."""

    __tablename__ = "enrollment_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    max_uses: Mapped[int | None]
    uses: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    machine_id: Mapped[str] = mapped_column(String(64), default="")
    hostname: Mapped[str] = mapped_column(String(255), default="")
    version: Mapped[str] = mapped_column(String(32), default="")
    interval: Mapped[int] = mapped_column(Integer, default=60)
    enrolled_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    # online | offline; offline after missing 3 check-ins (services.agents).
    status: Mapped[str] = mapped_column(String(16), default="online")
    status_since: Mapped[datetime]
    # The latest top processes, shown on the asset page; not history.
    top: Mapped[list[Any] | None] = mapped_column(JSON)
    # Digest of what the server wants this agent to watch (services.agent_config); an agent
    # reporting another rev gets the whole document in its check-in answer.
    config_rev: Mapped[str] = mapped_column(String(32), default="", server_default="")


class AgentWatch(Base):
    """The latest words an agent sent for a watch (a log's last matching line, an error).

    The numbers (process counts, matching lines) are metric series; this is what a
    message needs beside them.
    """

    __tablename__ = "agent_watch"

    check_id: Mapped[int] = mapped_column(
        ForeignKey("checks.id", ondelete="CASCADE"), primary_key=True
    )
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    line: Mapped[str] = mapped_column(Text, default="")
    line_at: Mapped[datetime | None]
    error: Mapped[str] = mapped_column(Text, default="")


class AgentBatch(Base):
    """Batch ids already stored: a retried batch is acknowledged again, never stored twice."""

    __tablename__ = "agent_batches"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    batch_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)


class MetricSeries(Base):
    __tablename__ = "metric_series"
    __table_args__ = (UniqueConstraint("asset_id", "name", "labels_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Canonical "k=v,k=v" of the labels, for uniqueness and lookup.
    labels_key: Mapped[str] = mapped_column(String(1000))


class MetricRaw(Base):
    """Raw samples, kept 2 days by default: (series, epoch second) -> value."""

    __tablename__ = "metric_raw"
    __table_args__ = {"sqlite_with_rowid": False}

    series_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class _Rollup:
    """One bucket of a series: (series, bucket start) -> min, max, mean and sample count."""

    __table_args__ = {"sqlite_with_rowid": False}

    series_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[int] = mapped_column(Integer, primary_key=True)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)
    avg: Mapped[float] = mapped_column(Float)
    count: Mapped[int] = mapped_column(Integer)


class MetricRollup5m(_Rollup, Base):
    """5-minute buckets, kept 30 days by default."""

    __tablename__ = "metric_5m"


class MetricRollup1h(_Rollup, Base):
    """1-hour buckets, kept 2 years by default."""

    __tablename__ = "metric_1h"


class InventorySection(Base):
    """The current state of one inventory section of an asset (packages, services, ...)."""

    __tablename__ = "inventory_sections"

    asset_id: Mapped[int] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True
    )
    section: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    data: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime]


class InventoryChange(Base):
    """One thing that changed on a machine: a package upgraded, a port opened, ..."""

    __tablename__ = "inventory_changes"
    __table_args__ = (Index("ix_inventory_changes_asset_id_id", "asset_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    section: Mapped[str] = mapped_column(String(32))
    change: Mapped[str] = mapped_column(String(16))  # added | removed | changed
    key: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(String(500))
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)


class KeyValue(Base):
    """Small server-wide state: the signing key, job watermarks."""

    __tablename__ = "server_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Check(Base):
    """What to watch on an asset and how often (issue 4). The probe type names the module."""

    __tablename__ = "checks"
    __table_args__ = (UniqueConstraint("asset_id", "name", name="uq_checks_asset_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(2000), default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    interval_s: Mapped[int] = mapped_column(Integer, default=60)
    retry_interval_s: Mapped[int] = mapped_column(Integer, default=20)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    timeout_s: Mapped[float] = mapped_column(Float, default=10.0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # When the parent is in a hard problem, this check's failures are "unreachable".
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("checks.id", ondelete="SET NULL"))
    # Where the definition came from: "manual" or "policy:<id>".
    source: Mapped[str] = mapped_column(String(32), default="manual")
    # Push checks (heartbeat): the secret part of the check's URL.
    push_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CheckStateRow(Base):
    """The current state of a check, and its place in the schedule (with a poller's lease)."""

    __tablename__ = "check_states"
    __table_args__ = (Index("ix_check_states_due", "next_due_at"),)

    check_id: Mapped[int] = mapped_column(
        ForeignKey("checks.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    status: Mapped[int] = mapped_column(Integer, default=0)
    hard_status: Mapped[int] = mapped_column(Integer, default=0)
    is_hard: Mapped[bool] = mapped_column(Boolean, default=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    since: Mapped[datetime | None]
    hard_since: Mapped[datetime | None]
    last_at: Mapped[datetime | None]
    # The last results' statuses, oldest first, one digit each (for flapping).
    history: Mapped[str] = mapped_column(String(32), default="")
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    message: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    next_due_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    # Push checks: the last /start ping, to measure how long the job ran.
    started_at: Mapped[datetime | None]


class CheckResult(Base):
    """Raw results: (check, epoch second) -> status. Numbers go to metric series, text to the
    state and events, so a result costs a few bytes (kept as long as raw metric samples)."""

    __tablename__ = "check_results"
    __table_args__ = {"sqlite_with_rowid": False}

    check_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[int] = mapped_column(Integer)


class CheckEvent(Base):
    """A check's timeline: every status change (soft or hard) and flapping start/end."""

    __tablename__ = "check_events"
    __table_args__ = (Index("ix_check_events_check_at", "check_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(20))  # soft | hard | flapping_started | ...
    old: Mapped[int] = mapped_column(Integer)
    new: Mapped[int] = mapped_column(Integer)
    # Why it was not notified (soft, flapping, unreachable, maintenance); "" = notify.
    quiet: Mapped[str] = mapped_column(String(16), default="")
    message: Mapped[str] = mapped_column(Text, default="")


class MaintenanceWindow(Base):
    """Planned work: checks keep running, nothing is notified, uptime leaves it out."""

    __tablename__ = "maintenance_windows"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    # Scope inside the organization: all of it, one site, or one asset.
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    start_local: Mapped[datetime] = mapped_column(sa_DateTime(timezone=False))
    duration_min: Mapped[int] = mapped_column(Integer)
    repeat: Mapped[str] = mapped_column(String(16), default="none")
    weekdays: Mapped[str] = mapped_column(String(16), default="")  # "1,3,5"
    until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime]


class Policy(Base):
    """Checks defined once for many assets: the provider, an organization, a site, a tag or
    one asset. More specific levels override or exclude what broader ones define."""

    __tablename__ = "policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None: the provider's own policy, for every organization (owners only).
    org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    # provider | org | site | tag | asset
    level: Mapped[str] = mapped_column(String(16))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    tag: Mapped[str | None] = mapped_column(String(64))
    # [{"name", "type", "target", "params", "interval_s", ...}]: new or overriding checks.
    checks: Mapped[list[Any]] = mapped_column(JSON)
    # Names of checks from broader levels that do not apply here.
    exclude: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Finding(Base):
    """A risk that persists until fixed or accepted: an unknown device on the network, a
    disabled firewall, a warranty that ends. One open finding per (org, rule, key)."""

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint("org_id", "rule", "key", name="uq_findings_org_rule_key"),
        Index("ix_findings_org_status", "org_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(64))  # e.g. "network.unknown_device"
    key: Mapped[str] = mapped_column(String(300))  # what it is about, unique per rule
    severity: Mapped[str] = mapped_column(String(16))  # info | low | medium | high | critical
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|resolved|accepted
    title: Mapped[str] = mapped_column(String(300))
    detail: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    # When the risk comes true (a certificate or warranty ends, support stops); None: undated.
    due_at: Mapped[datetime | None]
    # An accepted risk: why, by whom, and until when (then it reopens; services.posture).
    accepted_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    accepted_until: Mapped[datetime | None]
    accepted_by: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # Who deals with it (a member of the organization or a provider's owner); None: nobody yet.
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )


class PosturePolicyRow(Base):
    """A posture policy uploaded by the provider (org_id NULL: for every organization) or by
    one organization; the shipped pack is read from data/posture and not stored. `source` is
    the YAML as uploaded; it is parsed again when used (security.posture_policy)."""

    __tablename__ = "posture_policies"
    __table_args__ = (UniqueConstraint("org_id", "policy_key", name="uq_posture_policies_org_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    policy_key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(32))
    checks: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    uploaded_by: Mapped[str] = mapped_column(String(64), default="")
    uploaded_at: Mapped[datetime]


class PostureResultRow(Base):
    """The latest result of one posture check on one asset, and since when it holds."""

    __tablename__ = "posture_results"

    asset_id: Mapped[int] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True
    )
    policy_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    check_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(8))  # pass | fail | na | error
    evidence: Mapped[list[Any]] = mapped_column(JSON)
    seen_at: Mapped[datetime]  # when the agent evaluated it
    since: Mapped[datetime]  # when it took this status


class LifecycleProduct(Base):
    """End-of-life dates of one product imported by `forewarn data import`: server-wide, so
    every server process reads the same (domain.lifecycle.Release.to_json per release)."""

    __tablename__ = "lifecycle_products"

    product: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(300), default="")  # file name and format
    data_date: Mapped[date] = mapped_column(Date)  # as of when the data is true
    imported_at: Mapped[datetime]
    releases: Mapped[list[Any]] = mapped_column(JSON)


class VulnDataset(Base):
    """One vulnerability data set imported by `forewarn data import`: an OSV ecosystem
    ("osv:Debian"), the CISA KEV catalog ("kev") or the EPSS scores ("epss"). Server-wide,
    replaced whole by the next import of the same set."""

    __tablename__ = "vuln_datasets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # osv | kev | epss
    source: Mapped[str] = mapped_column(String(300), default="")  # file name and format
    data_date: Mapped[date] = mapped_column(Date)  # as of when the data is true
    imported_at: Mapped[datetime]
    records: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[str] = mapped_column(String(64), default="")  # KEV catalog, EPSS model


class VulnRecord(Base):
    """An OSV record: what is said of the vulnerability as a whole."""

    __tablename__ = "vuln_records"

    dataset: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    aliases: Mapped[list[str]] = mapped_column(JSON)  # CVE ids first
    summary: Mapped[str] = mapped_column(String(500), default="")
    severity: Mapped[list[Any]] = mapped_column(JSON)  # [{type, score}] as published
    cvss: Mapped[float | None] = mapped_column(Float)  # highest base score of the vectors
    modified: Mapped[datetime | None]


class VulnAffected(Base):
    """One package of one ecosystem an OSV record affects: what matching reads."""

    __tablename__ = "vuln_affected"
    __table_args__ = (Index("ix_vuln_affected_ecosystem_package", "ecosystem", "package"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset: Mapped[str] = mapped_column(String(64), index=True)
    vuln_id: Mapped[str] = mapped_column(String(128))
    ecosystem: Mapped[str] = mapped_column(String(64))
    package: Mapped[str] = mapped_column(String(255))
    ranges: Mapped[list[Any]] = mapped_column(JSON)  # [[[kind, version], ...], ...]
    versions: Mapped[list[str]] = mapped_column(JSON)


class KevEntry(Base):
    """A CVE in CISA's catalog of known exploited vulnerabilities."""

    __tablename__ = "vuln_kev"

    cve: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    date_added: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    ransomware: Mapped[bool] = mapped_column(Boolean, default=False)
    required_action: Mapped[str] = mapped_column(String(1000), default="")


class EpssScore(Base):
    """FIRST's EPSS: the probability of exploitation in the next 30 days, and its percentile."""

    __tablename__ = "vuln_epss"

    cve: Mapped[str] = mapped_column(String(32), primary_key=True)
    epss: Mapped[float] = mapped_column(Float)
    percentile: Mapped[float] = mapped_column(Float)


class VulnScan(Base):
    """When an asset's packages were last matched, against which inventory and data: the
    matching job takes the assets whose inventory or data changed since."""

    __tablename__ = "vuln_scans"

    asset_id: Mapped[int] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    inventory_at: Mapped[datetime | None]  # the inventory's updated_at that was matched
    data_stamp: Mapped[str] = mapped_column(String(64), default="")
    matched_at: Mapped[datetime]
    ecosystems: Mapped[list[str]] = mapped_column(JSON)  # what the asset was matched as
    packages: Mapped[int] = mapped_column(Integer, default=0)  # how many were looked up


class DiscoveryNetwork(Base):
    """A network an admin allowed Forewarn to sweep for an organization."""

    __tablename__ = "discovery_networks"
    __table_args__ = (UniqueConstraint("org_id", "cidr", name="uq_discovery_networks_org_cidr"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    cidr: Mapped[str] = mapped_column(String(64))
    # SNMP v2c communities to try on found devices (secrets; encrypted at rest).
    snmp_communities: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    # Swept by this agent on the client's network instead of by the server's poller.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))


class DiscoveryRun(Base):
    """One sweep of a network: when, how far it got, what it found."""

    __tablename__ = "discovery_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    network_id: Mapped[int] = mapped_column(ForeignKey("discovery_networks.id", ondelete="CASCADE"))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|done|failed
    addresses: Mapped[int] = mapped_column(Integer, default=0)  # addresses swept
    found: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")


class DiscoveredDevice(Base):
    """A device seen on a swept network, adopted as an asset, ignored, or still to decide."""

    __tablename__ = "discovered_devices"
    __table_args__ = (
        UniqueConstraint("network_id", "address", name="uq_discovered_devices_network_address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    network_id: Mapped[int] = mapped_column(ForeignKey("discovery_networks.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(32), default="")
    hostname: Mapped[str] = mapped_column(String(255), default="")  # reverse DNS
    sys_name: Mapped[str] = mapped_column(String(255), default="")
    sys_descr: Mapped[str] = mapped_column(Text, default="")
    open_ports: Mapped[list[Any]] = mapped_column(JSON)
    kind_guess: Mapped[str] = mapped_column(String(32), default="other")
    state: Mapped[str] = mapped_column(String(16), default="new")  # new | adopted | ignored
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="SET NULL"))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]


class StatusPage(Base):
    """An organization's public status page (opt-in): chosen checks, uptime, incident notes."""

    __tablename__ = "status_pages"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), unique=True
    )
    slug: Mapped[str] = mapped_column(String(64), unique=True)  # the public link's secret part
    title: Mapped[str] = mapped_column(String(200))
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    # [{"check_id": 1, "label": "Website"}], in display order.
    items: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StatusNote(Base):
    """An incident note on a status page: what happened, what is being done."""

    __tablename__ = "status_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(
        ForeignKey("status_pages.id", ondelete="CASCADE"), index=True
    )
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)


# ---- alerting (issue 5) ---------------------------------------------------------------------


class AlertRow(Base):
    """An alert: one problem, told once, with its timeline (domain.alerting decides).

    One alert per fingerprint is not resolved at a time: the partial unique index holds it
    for transactions that run at once (two pollers, two Alertmanager posts); services.alerts
    opens with ON CONFLICT DO NOTHING so that the second one refreshes the first's alert.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_org_state", "org_id", "state"),
        Index("ix_alerts_fingerprint", "fingerprint"),
        Index(
            "uq_alerts_open_fingerprint",
            "fingerprint",
            unique=True,
            sqlite_where=text("state != 'resolved'"),
            postgresql_where=text("state != 'resolved'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(16))
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # open | acknowledged | resolved
    summary: Mapped[str] = mapped_column(Text, default="")  # what is wrong, latest words
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="SET NULL"))
    check_id: Mapped[int | None] = mapped_column(ForeignKey("checks.id", ondelete="SET NULL"))
    opened_at: Mapped[datetime]
    last_fired_at: Mapped[datetime]
    acked_at: Mapped[datetime | None]
    ack_until: Mapped[datetime | None]
    acked_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    # When its routes next have something to send (a step, a repeat, an acknowledgement or a
    # silence running out); None: nothing until something changes. The escalation turn
    # looks only at alerts due by now.
    notify_at: Mapped[datetime | None] = mapped_column(index=True)


class AlertEvent(Base):
    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")


class Channel(Base):
    """Where notifications go: an apprise URL (email, Slack, Teams, a webhook, ...), sealed
    at rest. org_id None: the provider's own, usable for every organization."""

    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_channels_org_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)  # sealed (services.keys)
    kind: Mapped[str] = mapped_column(String(32))  # the apprise scheme, shown: mailto, slack...
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # kind "webhook": Forewarn posts signed JSON itself; this is the HMAC key, sealed.
    secret: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime]


class AlertRoute(Base):
    """Who is told of which alerts, when, and again (domain.routing.Route)."""

    __tablename__ = "alert_routes"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    matchers: Mapped[list[Any]] = mapped_column(JSON)  # ["severity=critical", ...]
    when: Mapped[str] = mapped_column(String(16), default="any")
    steps: Mapped[list[Any]] = mapped_column(JSON)  # [{"after_s": 0, "channels": [1, 2]}]
    repeat_s: Mapped[int | None] = mapped_column(Integer)
    continue_: Mapped[bool] = mapped_column("continue", Boolean, default=False)
    # Open a ticket (origin "monitoring") for each alert this route takes when it opens.
    open_ticket: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Wait this long after a group's first alert so that the rest of a burst joins it in
    # one message (0: each alert at once); groups by these labels.
    group_wait_s: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    group_by: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]


class AlertSend(Base):
    """What was sent for an alert on a route: the history `routing.due` reads."""

    __tablename__ = "alert_sends"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    route_id: Mapped[int | None] = mapped_column(ForeignKey("alert_routes.id", ondelete="CASCADE"))
    step_index: Mapped[int] = mapped_column(Integer)  # routing.RESOLVED_STEP for "resolved"
    # No foreign key: the history stays true when a channel is deleted later.
    channel_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]


class Delivery(Base):
    """The outbox: a message to send, kept until sent or given up, so a notification
    survives a restart of the server and an outage of the channel."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_state_next", "state", "next_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), index=True
    )
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))  # alert|escalation|repeat|resolved|test|report
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    # Grouping: a "held" delivery waits (until next_at) for the rest of its burst, then is
    # "merged" into one delivery that lists them all.
    group_key: Mapped[str | None] = mapped_column(String(300), index=True)
    merged_into: Mapped[int | None] = mapped_column(Integer)
    # kind "report": the stored client report it carries (its PDF is printed at send time).
    report_id: Mapped[int | None] = mapped_column(
        ForeignKey("client_reports.id", ondelete="SET NULL")
    )


class SilenceRow(Base):
    """Alerts matching these label matchers are not notified between the two times
    (domain.alerting.Silence). org_id None: the provider's, over every organization."""

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    matchers: Mapped[list[Any]] = mapped_column(JSON)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime] = mapped_column(index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class Ticket(Base):
    """Work on a client's problem: who, what state, how urgent, and its timeline."""

    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_org_status", "org_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))  # domain.tickets.TicketStatus
    priority: Mapped[str] = mapped_column(String(16))  # domain.tickets.Priority
    origin: Mapped[str] = mapped_column(String(16))  # domain.tickets.Origin
    reporter: Mapped[str] = mapped_column(String(200))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


class TicketEvent(Base):
    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    author: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))  # created, comment, status, assigned, ...
    detail: Mapped[str] = mapped_column(Text, default="")


class TicketAlert(Base):
    """An alert linked to a ticket (opened from it, or linked by hand)."""

    __tablename__ = "ticket_alerts"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    linked_at: Mapped[datetime]


class SecurityEvent(Base):
    """Something security-relevant that happened on a machine: a login, a failed one, a sudo,
    an administrator or a public listener appearing, the firewall or the agent switched off.

    Written by ingest (services.activity.record); `pending` rows wait for the security job,
    which judges them (domain.activity), raises alerts and clears the flag.
    """

    __tablename__ = "security_events"
    __table_args__ = (
        Index("ix_security_events_asset_at", "asset_id", "at"),
        Index("ix_security_events_pending", "pending"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    at: Mapped[datetime]  # when it happened, by the machine's clock
    received_at: Mapped[datetime] = mapped_column(index=True)
    # login | sudo | su | admin_added | listener_public | firewall_off | firewall_on |
    # agent_stopped
    kind: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16), default="")  # success | failure | ""
    service: Mapped[str] = mapped_column(String(64), default="")
    user: Mapped[str] = mapped_column(String(255), default="")
    source: Mapped[str] = mapped_column(String(255), default="")
    method: Mapped[str] = mapped_column(String(64), default="")
    target: Mapped[str] = mapped_column(String(255), default="")
    invalid_user: Mapped[bool] = mapped_column(Boolean, default=False)
    count: Mapped[int] = mapped_column(Integer, default=1)
    line: Mapped[str] = mapped_column(Text, default="")
    pending: Mapped[bool] = mapped_column(Boolean, default=True)


class PendingUpdateRow(Base):
    """An update an asset's agent reports pending, and since when: the key is the package
    and the candidate version, so a newer candidate starts its own age (services.patching)."""

    __tablename__ = "pending_updates"
    __table_args__ = (
        UniqueConstraint(
            "asset_id", "source", "name", "arch", "candidate", name="uq_pending_updates_key"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    arch: Mapped[str] = mapped_column(String(255), default="")
    candidate: Mapped[str] = mapped_column(String(255))
    security: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen: Mapped[datetime]


class PatchStatusRow(Base):
    """An asset that reports its updates: when it last did and since when it waits for a
    reboot (None: no reboot required)."""

    __tablename__ = "patch_status"

    asset_id: Mapped[int] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    reported_at: Mapped[datetime]
    reboot_since: Mapped[datetime | None]


class Script(Base):
    """A library script: an organization's (org_id) or the provider's for all (org_id NULL)."""

    __tablename__ = "scripts"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_scripts_org_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(16))  # bash | python
    body: Mapped[str] = mapped_column(Text)
    # [{"name": "DAYS", "default": "7", "description": ""}]: passed as environment variables.
    parameters: Mapped[list[Any]] = mapped_column(JSON, default=list)
    timeout_s: Mapped[int] = mapped_column(Integer, default=300)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AgentJob(Base):
    """One signed job for one agent, from queued to its result (services.agent_jobs)."""

    __tablename__ = "agent_jobs"
    __table_args__ = (Index("ix_agent_jobs_agent_state", "agent_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    script_id: Mapped[int | None] = mapped_column(ForeignKey("scripts.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200), default="")
    # queued -> sent -> (running) -> succeeded | failed | refused | timed_out (expired: never
    # delivered); running once the agent reported it started
    state: Mapped[str] = mapped_column(String(16), default="queued")
    envelope: Mapped[str] = mapped_column(Text)  # the signed canonical JSON
    sig: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    not_after: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    exit_code: Mapped[int | None] = mapped_column(Integer)
    output: Mapped[str] = mapped_column(Text, default="")
    output_cut: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text, default="")


# ---- client reports (issue 9) -----------------------------------------------------------------


class ClientReport(Base):
    """A stored report for a client (services.monthly_report): its canonical JSON document.

    One per (organization, kind, period): generating it again replaces it. HTML and PDF are
    rendered from the document on request, so what is stored is data, not paper.
    """

    __tablename__ = "client_reports"
    __table_args__ = (
        UniqueConstraint("org_id", "kind", "period", name="uq_client_reports_org_kind_period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # monthly
    period: Mapped[str] = mapped_column(String(16))  # YYYY-MM for a monthly report
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    schema_version: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    # When it was first put in the outbox for the organization's report recipients
    # (services.report_sending); None: never. Generating the month again does not resend it.
    queued_at: Mapped[datetime | None]


# ---- the assessment (issue 9) -------------------------------------------------------------------


class AssessmentAnswer(Base):
    """An organization's current answer to one questionnaire question, and who gave it when
    (assess.questionnaire; a new answer to the same question replaces the old one)."""

    __tablename__ = "assessment_answers"
    __table_args__ = (
        UniqueConstraint("org_id", "question_id", name="uq_assessment_answers_org_question"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(String(64))
    answer: Mapped[str] = mapped_column(String(8))  # yes | partly | no | unknown
    detail: Mapped[str] = mapped_column(String(200), default="")  # a name or an ISO date
    answered_by: Mapped[str] = mapped_column(String(200), default="")
    answered_at: Mapped[datetime]


class Assessment(Base):
    """A dated snapshot of an organization's assessment: the canonical JSON document
    ("schema": "forewarn.assessment/<version>") and its headline figures for listing."""

    __tablename__ = "assessments"
    __table_args__ = (
        Index("ix_assessments_org_id_id", "org_id", "id"),
        # A scheduled run is keyed by its month, so it happens at most once per month.
        UniqueConstraint("org_id", "scheduled_for", name="uq_assessments_org_scheduled"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)  # of the document's schema
    score: Mapped[float | None] = mapped_column(Float)  # overall 0..100; None: no score
    coverage: Mapped[float] = mapped_column(Float, default=0.0)
    no_data: Mapped[bool] = mapped_column(Boolean, default=False)
    scheduled_for: Mapped[str | None] = mapped_column(String(7))  # "2026-11"; None: by hand
    document: Mapped[dict[str, Any]] = mapped_column(JSON)


class PatchPolicyRow(Base):
    """A patch policy (domain.patch_policy): an organization's default (tag NULL), its override
    for assets with a tag, or the provider's default for every organization (org_id NULL)."""

    __tablename__ = "patch_policies"
    __table_args__ = (UniqueConstraint("org_id", "tag", name="uq_patch_policies_org_tag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    tag: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    security: Mapped[str] = mapped_column(String(16), default="auto")
    other: Mapped[str] = mapped_column(String(16), default="manual")
    deferral_days: Mapped[int] = mapped_column(Integer, default=0)
    pilot_tag: Mapped[str | None] = mapped_column(String(64))
    ring_delay_days: Mapped[int] = mapped_column(Integer, default=7)
    window_start: Mapped[str] = mapped_column(String(5))  # "HH:MM", the org's wall clock
    window_minutes: Mapped[int] = mapped_column(Integer)
    window_days: Mapped[str] = mapped_column(String(16), default="")  # "1,3,5"; "" daily
    reboot: Mapped[str] = mapped_column(String(16), default="when_required")
    holds: Mapped[list[str]] = mapped_column(JSON, default=list)
    grace_hours: Mapped[int] = mapped_column(Integer, default=72)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PatchPolicyAction(Base):
    """What a patch policy did: one job it issued to one asset, when and why."""

    __tablename__ = "patch_policy_actions"
    __table_args__ = (Index("ix_patch_policy_actions_asset_at", "asset_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("patch_policies.id", ondelete="SET NULL")
    )
    policy_name: Mapped[str] = mapped_column(String(200))
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("agent_jobs.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))  # install | reboot
    at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text, default="")
    packages: Mapped[list[Any]] = mapped_column(JSON, default=list)


class TicketChecklist(Base):
    """A checklist template started as a ticket (services.checklists): which template, with
    which parameters; its steps are TicketChecklistStep rows, their ticks in the timeline."""

    __tablename__ = "ticket_checklists"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    template: Mapped[str] = mapped_column(String(40))  # assess.plans.Checklist.id
    title: Mapped[str] = mapped_column(String(200))  # the template's title when started
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime]


class TicketChecklistStep(Base):
    """One step of a ticket's checklist, copied from the template when it started (a template
    changed later does not rewrite work under way); done or not, by whom, when."""

    __tablename__ = "ticket_checklist_steps"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("ticket_checklists.ticket_id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1, 2, ...
    title: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")
    safeguards: Mapped[list[str]] = mapped_column(JSON, default=list)  # CIS v8 IG1 ids
    done_at: Mapped[datetime | None]
    done_by: Mapped[str] = mapped_column(String(200), default="")


class OrgChecklists(Base):
    """An organization's own checklist templates: the YAML file as imported (validated whole
    by assess.plans.parse_checklists); importing again replaces it."""

    __tablename__ = "org_checklists"

    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))


class Remedy(Base):
    """What to do when a check goes to a hard problem, before anyone is told (services.remedies):
    restart a service on the check's machine, or run a library script there."""

    __tablename__ = "remedies"
    __table_args__ = (UniqueConstraint("check_id", name="uq_remedies_check"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # restart_service | script
    service: Mapped[str] = mapped_column(String(255), default="")
    script_id: Mapped[int | None] = mapped_column(ForeignKey("scripts.id", ondelete="CASCADE"))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    max_attempts: Mapped[int] = mapped_column(Integer, default=1)  # per incident
    cooldown_s: Mapped[int] = mapped_column(Integer, default=3600)
    # The longest an alert is held while this remedy works: then it goes out whatever happened.
    timeout_s: Mapped[int] = mapped_column(Integer, default=600)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]


class RemedyAttempt(Base):
    """One try of a remedy for one incident, and how it ended."""

    __tablename__ = "remedy_attempts"
    __table_args__ = (
        Index("ix_remedy_attempts_state", "state"),
        Index("ix_remedy_attempts_org_created", "org_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    remedy_id: Mapped[int] = mapped_column(ForeignKey("remedies.id", ondelete="CASCADE"))
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id", ondelete="CASCADE"))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("agent_jobs.id", ondelete="SET NULL"))
    number: Mapped[int] = mapped_column(Integer, default=1)  # the incident's first, second, ...
    # pending (job to issue) -> issued (job out) -> verifying (check asked again) -> done
    state: Mapped[str] = mapped_column(String(16), default="pending")
    # fixed | not_fixed | job_failed | no_agent | timed_out (empty until done)
    outcome: Mapped[str] = mapped_column(String(16), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    hold_until: Mapped[datetime]
    verify_by: Mapped[datetime | None]
    asked_at: Mapped[datetime | None]  # when the check was asked again after the job
    finished_at: Mapped[datetime | None]


class ScriptSchedule(Base):
    """A library script run on a schedule against assets, a tag or a whole organization."""

    __tablename__ = "script_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    script_id: Mapped[int] = mapped_column(ForeignKey("scripts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    asset_ids: Mapped[list[Any] | None] = mapped_column(JSON)  # None: by tag or all
    tag: Mapped[str | None] = mapped_column(String(64))
    # The recurrence of maintenance windows (domain.maintenance.Window), in the org's zone.
    start_local: Mapped[datetime] = mapped_column(sa_DateTime(timezone=False))
    repeat: Mapped[str] = mapped_column(String(16), default="daily")
    weekdays: Mapped[str] = mapped_column(String(16), default="")  # "1,3,5"
    tz: Mapped[str] = mapped_column(String(64), default="UTC")
    next_run: Mapped[datetime | None] = mapped_column(index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]


class ScriptScheduleRun(Base):
    """One occurrence of a schedule on one asset: unique, so an occurrence is issued once."""

    __tablename__ = "script_schedule_runs"
    __table_args__ = (
        UniqueConstraint("schedule_id", "occurrence", "asset_id", name="uq_schedule_runs_once"),
        Index("ix_schedule_runs_org_occurrence", "org_id", "occurrence"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    schedule_id: Mapped[int] = mapped_column(ForeignKey("script_schedules.id", ondelete="CASCADE"))
    occurrence: Mapped[datetime]
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("agent_jobs.id", ondelete="SET NULL"))


# ---- sending the monthly report (issue 9) ------------------------------------------------------


class ReportRecipient(Base):
    """A channel of the organization that receives its monthly report (services.report_sending).
    Deleting the channel removes it from the recipients."""

    __tablename__ = "report_recipients"
    __table_args__ = (
        UniqueConstraint("org_id", "channel_id", name="uq_report_recipients_org_channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
