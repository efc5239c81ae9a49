"""Validated inputs and the shapes we answer with; shared by the API, the web pages and the CLI."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from forewarn.domain.inventory import SLUG_PATTERN, TAG_PATTERN, AssetKind, Role, normalize_tags

# Ids are 32-bit integers in both engines.
MAX_ID = 2_147_483_647
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=10_000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, pattern=TAG_PATTERN)]
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
Username = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
]
Password = Annotated[str, StringConstraints(min_length=10, max_length=256)]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^$|^[^@\s]+@[^@\s]+$")
]
_HOSTNAME = re.compile(r"^$|^[A-Za-z0-9_]([A-Za-z0-9_.:-]{0,253})$")


def _hostname(value: str) -> str:
    if not _HOSTNAME.match(value):
        raise ValueError("not a host name or address")
    return value


Hostname = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=255), AfterValidator(_hostname)
]
Money = Annotated[Decimal, Field(ge=0, le=Decimal("1e12"), max_digits=16, decimal_places=2)]


Id = Annotated[int, Field(gt=0, le=MAX_ID)]
SearchText = Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00]*$")]


class Strict(BaseModel):
    """Inputs refuse unknown fields: a typo is an error, not a silently ignored value."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL cannot store NUL in text; refuse it at the edge for both engines alike.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text may not contain NUL characters")
        return value


class BusinessHours(Strict):
    days: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default=[1, 2, 3, 4, 5], description="ISO weekdays, 1 = Monday", max_length=7
    )
    start: str = Field(default="08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(default="18:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")

    @model_validator(mode="after")
    def _ordered(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError("business hours must end after they start")
        self.days = sorted(set(self.days))
        return self

    def hours_per_week(self) -> float:
        sh, sm = map(int, self.start.split(":"))
        eh, em = map(int, self.end.split(":"))
        return len(self.days) * ((eh * 60 + em) - (sh * 60 + sm)) / 60


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


def known_timezones() -> list[str]:
    return sorted(available_timezones())


TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_zone)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


# ---- organizations ------------------------------------------------------------------------


class OrgCreate(Strict):
    name: Name
    slug: Slug | None = None
    employees: int = Field(default=0, ge=0, le=1_000_000)
    hourly_cost: Money = Field(default=Decimal(0), description="loaded cost of one staff hour")
    currency: Currency = "USD"
    annual_revenue: Money | None = None
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    timezone: TimeZone = "UTC"
    notes: Text = ""


class OrgUpdate(Strict):
    name: Name | None = None
    slug: Slug | None = None
    employees: int | None = Field(default=None, ge=0, le=1_000_000)
    hourly_cost: Money | None = None
    currency: Currency | None = None
    annual_revenue: Money | None = None
    business_hours: BusinessHours | None = None
    timezone: TimeZone | None = None
    notes: Text | None = None


class OrgOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    slug: str
    employees: int
    hourly_cost: Decimal
    currency: str
    annual_revenue: Decimal | None
    business_hours: BusinessHours
    timezone: str
    notes: str
    created_at: datetime
    updated_at: datetime


class OrgSummary(BaseModel):
    """An organization with the counts the overview shows."""

    org: OrgOut
    sites: int
    assets: int


# ---- sites ----------------------------------------------------------------------------------


class SiteCreate(Strict):
    org_id: Id
    name: Name
    address: Text = ""
    notes: Text = ""


class SiteUpdate(Strict):
    name: Name | None = None
    address: Text | None = None
    notes: Text | None = None


class SiteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    name: str
    address: str
    notes: str
    created_at: datetime
    updated_at: datetime


# ---- assets ---------------------------------------------------------------------------------


def _normalized_tags(tags: list[str] | None) -> list[str] | None:
    return None if tags is None else normalize_tags(tags)


def _plausible_date(value: date | None) -> date | None:
    if value is not None and not date(1980, 1, 1) <= value <= date(2100, 12, 31):
        raise ValueError("date must be between 1980 and 2100")
    return value


class AssetFields(Strict):
    site_id: Id | None = None
    hostname: Hostname = ""
    criticality: int = Field(default=3, ge=1, le=5, description="1 = minor, 5 = business stops")
    owner: Short = ""
    location: Short = ""
    purchase_date: date | None = None
    warranty_end: date | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    notes: Text = ""

    _tags = field_validator("tags")(_normalized_tags)
    _dates = field_validator("purchase_date", "warranty_end")(_plausible_date)


class AssetCreate(AssetFields):
    org_id: Id
    kind: AssetKind
    name: Name


class AssetUpdate(Strict):
    site_id: Id | None = None
    kind: AssetKind | None = None
    name: Name | None = None
    hostname: Hostname | None = None
    criticality: int | None = Field(default=None, ge=1, le=5)
    owner: Short | None = None
    location: Short | None = None
    purchase_date: date | None = None
    warranty_end: date | None = None
    tags: list[Tag] | None = Field(default=None, max_length=50)
    notes: Text | None = None

    _tags = field_validator("tags")(_normalized_tags)
    _dates = field_validator("purchase_date", "warranty_end")(_plausible_date)


class AssetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    site_id: int | None
    kind: AssetKind
    name: str
    hostname: str
    criticality: int
    owner: str
    location: str
    purchase_date: date | None
    warranty_end: date | None
    tags: list[str]
    notes: str
    created_at: datetime
    updated_at: datetime


class AssetFilter(BaseModel):
    org_id: Id | None = None
    site_id: Id | None = None
    kind: AssetKind | None = None
    tag: SearchText | None = None
    q: SearchText | None = None


# ---- users, memberships, tokens, invitations --------------------------------------------------


class UserCreate(Strict):
    username: Username
    password: Password
    display_name: Short = ""
    email: Email = ""
    is_owner: bool = False


class UserUpdate(Strict):
    display_name: Short | None = None
    email: Email | None = None
    password: Password | None = None
    is_active: bool | None = None
    is_owner: bool | None = None


class PasswordChange(Strict):
    """A signed-in person's new password, with the current one as proof it is them."""

    current_password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    new_password: Password


class MembershipOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    org_id: int
    role: Role
    created_at: datetime


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    email: str
    is_owner: bool
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None
    memberships: list[MembershipOut]


class MembershipCreate(Strict):
    user_id: Id
    org_id: Id
    role: Role


class MembershipUpdate(Strict):
    role: Role


class TokenCreate(Strict):
    name: Name
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="the secret; shown this once and never again")


class InvitationCreate(Strict):
    org_id: Id
    role: Role = Role.VIEWER
    email: Email = ""
    expires_in_days: int = Field(default=7, ge=1, le=60)


class InvitationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    role: Role
    email: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None


class InvitationCreated(InvitationOut):
    token: str = Field(description="put in the link /invite/{token}; shown this once")


class LoginRequest(Strict):
    username: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class TokenAnswer(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime | None = None


class InvitationAccept(Strict):
    username: Username
    password: Password
    display_name: Short = ""


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    user_id: int | None
    actor: str
    org_id: int | None
    action: str
    entity: str
    entity_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    address: str


# ---- inventory import -------------------------------------------------------------------------


class ImportRowError(BaseModel):
    """One problem in an imported file; line 1 is the header row."""

    line: int = Field(description="line in the file where the row starts (the header is line 1)")
    column: str = Field(description="the column as the file's header names it; '' for the row")
    message: str


class ImportReport(BaseModel):
    """What an import did (or, in a dry run, would do)."""

    created: int = Field(description="assets stored (or, in a dry run, that would be)")
    skipped: int = Field(description="bad rows left out (only with skip_bad)")
    rows: int = Field(description="data rows in the file, blank lines not counted")
    sites_created: list[str] = Field(description="sites made for names the organization lacked")
    dry_run: bool = False
    errors: list[ImportRowError] = Field(default_factory=list)
    errors_omitted: int = Field(default=0, description="problems found beyond those listed")


# ---- agents ----------------------------------------------------------------------------------


class EnrollTokenCreate(Strict):
    org_id: Id
    site_id: Id | None = None
    name: Short = ""
    max_uses: int | None = Field(default=None, ge=1, le=100_000, description="unlimited if null")
    expires_in_days: int | None = Field(default=7, ge=1, le=3650, description="never if null")


class EnrollTokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    site_id: int | None
    name: str
    prefix: str
    max_uses: int | None
    uses: int
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class EnrollTokenCreated(EnrollTokenOut):
    token: str = Field(description="give it to `forewarn agent enroll --token`; shown once")


class AgentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    asset_id: int
    hostname: str
    machine_id: str
    version: str
    interval: int
    enrolled_at: datetime
    last_seen_at: datetime | None
    status: str
    status_since: datetime


# --- checks (issue 4) ---------------------------------------------------------------------

CheckType = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,16}$")]


class CheckTiming(Strict):
    interval_s: int = Field(60, ge=10, le=86_400, description="seconds between runs")
    retry_interval_s: int = Field(
        20, ge=1, le=3_600, description="seconds between retries of a soft problem"
    )
    max_attempts: int = Field(3, ge=1, le=10, description="results before a problem is hard")
    timeout_s: float = Field(10.0, ge=0.5, le=120, description="hard limit on one run")


class CheckCreate(CheckTiming):
    asset_id: Id
    name: Name
    type: CheckType
    target: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""
    params: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    parent_id: Id | None = None


class CheckUpdate(Strict):
    name: Name | None = None
    target: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None
    params: dict[str, Any] | None = None
    enabled: bool | None = None
    parent_id: Id | None = None
    interval_s: int | None = Field(None, ge=10, le=86_400)
    retry_interval_s: int | None = Field(None, ge=1, le=3_600)
    max_attempts: int | None = Field(None, ge=1, le=10)
    timeout_s: float | None = Field(None, ge=0.5, le=120)


class CheckStateOut(BaseModel):
    display: str  # pending | ok | warning | critical | unknown | unreachable
    status: str
    is_hard: bool
    attempt: int
    flapping: bool
    message: str
    details: str
    since: datetime | None
    last_at: datetime | None
    next_due_at: datetime | None
    duration_ms: float


class CheckOut(BaseModel):
    id: int
    org_id: int
    asset_id: int
    name: str
    type: str
    target: str
    params: dict[str, Any]
    interval_s: int
    retry_interval_s: int
    max_attempts: int
    timeout_s: float
    enabled: bool
    parent_id: int | None
    source: str
    push_path: str | None  # heartbeat checks: the path the job calls, e.g. /hb/<token>
    state: CheckStateOut


class CheckEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    check_id: int
    at: datetime
    kind: str
    old: int
    new: int
    quiet: str
    message: str


class ResultOut(BaseModel):
    ts: int
    status: int


class MaintenanceCreate(Strict):
    org_id: Id
    site_id: Id | None = None
    asset_id: Id | None = None
    name: Name
    start_local: datetime = Field(
        description="first start, wall-clock time in the organization's time zone (no offset)"
    )
    duration_min: int = Field(ge=1, le=31 * 24 * 60)
    repeat: str = Field("none", pattern="^(none|daily|weekly|monthly)$")
    weekdays: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default_factory=list, max_length=7, description="ISO weekdays for weekly: 1=Mon..7=Sun"
    )
    until: date | None = None

    @model_validator(mode="after")
    def _one_scope(self) -> MaintenanceCreate:
        if self.site_id is not None and self.asset_id is not None:
            raise ValueError("a window covers the organization, one site or one asset")
        if self.start_local.tzinfo is not None:
            raise ValueError("start_local is a wall-clock time without an offset")
        return self


class MaintenanceOut(BaseModel):
    id: int
    org_id: int
    site_id: int | None
    asset_id: int | None
    name: str
    start_local: datetime
    duration_min: int
    repeat: str
    weekdays: list[int]
    until: date | None
    active_now: bool
    next_start: datetime | None  # UTC


class PolicyCheck(Strict):
    """A check in a policy. With `type` it defines a check; with only `name` (and the fields to
    change) it overrides one defined by a broader policy. `target` may use {host} and {name}."""

    name: Name
    type: CheckType | None = None
    target: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None
    params: dict[str, Any] | None = None
    interval_s: int | None = Field(None, ge=10, le=86_400)
    retry_interval_s: int | None = Field(None, ge=1, le=3_600)
    max_attempts: int | None = Field(None, ge=1, le=10)
    timeout_s: float | None = Field(None, ge=0.5, le=120)
    enabled: bool | None = None


class PolicyCreate(Strict):
    name: Name
    org_id: Id | None = Field(None, description="none: the provider's policy (owners only)")
    site_id: Id | None = None
    asset_id: Id | None = None
    tag: Tag | None = None
    checks: list[PolicyCheck] = Field(default_factory=list, max_length=200)
    exclude: list[Name] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _one_target(self) -> PolicyCreate:
        narrowed = [x for x in (self.site_id, self.asset_id, self.tag) if x is not None]
        if len(narrowed) > 1:
            raise ValueError("a policy applies to an organization, a site, a tag or an asset")
        if self.org_id is None and (self.site_id or self.asset_id):
            raise ValueError("a site or asset policy belongs to that organization: give org_id")
        names = [c.name for c in self.checks]
        if len(set(names)) != len(names):
            raise ValueError("a policy names each check once")
        if set(names) & set(self.exclude):
            raise ValueError("a policy cannot both define and exclude the same check")
        return self


class PolicyUpdate(Strict):
    name: Name | None = None
    checks: list[PolicyCheck] | None = Field(None, max_length=200)
    exclude: list[Name] | None = Field(None, max_length=200)


class PolicyOut(BaseModel):
    id: int
    org_id: int | None
    name: str
    level: str
    site_id: int | None
    asset_id: int | None
    tag: str | None
    checks: list[dict[str, Any]]
    exclude: list[str]


class EffectiveCheckOut(BaseModel):
    name: str
    type: str | None
    target: str
    state: str  # applied | excluded | manual (a manual check of that name wins) | invalid
    detail: str
    check_id: int | None
    sources: list[dict[str, Any]]  # [{policy_id, policy_name, action}], broad to specific


class StatusItem(Strict):
    check_id: Id
    label: Name


class StatusPageUpdate(Strict):
    title: Name | None = None
    published: bool | None = None
    items: list[StatusItem] | None = Field(None, max_length=50)


class StatusNoteCreate(Strict):
    title: Name
    body: Text = ""
    resolved: bool = False


class StatusNoteUpdate(Strict):
    title: Name | None = None
    body: Text | None = None
    resolved: bool | None = None


class StatusNoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    title: str
    body: str
    resolved: bool


class StatusPageOut(BaseModel):
    org_id: int
    slug: str
    title: str
    published: bool
    items: list[StatusItem]
    public_path: str
    notes: list[StatusNoteOut]


class DayBar(BaseModel):
    day: date
    ratio: float | None  # None: no data that day


class PublicItem(BaseModel):
    label: str
    state: str  # operational | degraded | down | maintenance | unknown
    uptime_90d: float | None
    days: list[DayBar]


class PublicStatus(BaseModel):
    title: str
    overall: str  # operational | degraded | down | maintenance | unknown
    items: list[PublicItem]
    notes: list[StatusNoteOut]
    updated_at: datetime
