"""What the agent and the server say to each other, version 1.

The server validates every payload against these models and refuses a batch whole when any
part is wrong. The agent does not import this module: pydantic would double its resident
memory (measured: psutil alone 12 MB, with a pydantic model 29 MB), so it builds plain dicts
of the same shape, and tests/unit/test_wire_contract.py checks that what the agent really
collects on this machine validates here.

Conventions: times are Unix epoch seconds (float) on the wire; metric names are dotted
lower-case words (`disk.used_percent`) with string labels (`{"mount": "/"}`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

WIRE_VERSION: Literal[1] = 1
# Bounds that keep one batch reasonable; an agent replaying a long outage sends several.
MAX_SAMPLES = 2_000
MAX_POINTS = 500
MAX_ITEMS = 50_000
# The agent's default check-in interval; the server may answer with another.
DEFAULT_INTERVAL = 60

MetricName = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$", max_length=100)
]
LabelKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
LabelValue = Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00]*$")]
Str = Annotated[str, StringConstraints(max_length=1000, pattern=r"^[^\x00]*$")]
ShortStr = Annotated[str, StringConstraints(max_length=255, pattern=r"^[^\x00]*$")]
# 2001-01-01 .. 2100-01-01: rejects zero, milliseconds sent as seconds, and the like.
Epoch = Annotated[float, Field(ge=978_307_200, le=4_102_444_800)]
Port = Annotated[int, Field(ge=0, le=65535)]
Count = Annotated[int, Field(ge=0, le=2**62)]


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- enrolment ------------------------------------------------------------------------------


class EnrollRequest(Wire):
    token: Annotated[str, StringConstraints(min_length=10, max_length=200)]
    hostname: ShortStr
    machine_id: Annotated[str, StringConstraints(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")] = ""
    os: ShortStr = ""
    agent_version: Annotated[str, StringConstraints(max_length=32)] = ""


class EnrollAnswer(Wire):
    agent_id: int
    asset_id: int
    org_id: int
    agent_token: str = Field(description="the agent's own bearer credential; kept by the agent")
    server_public_key: str = Field(description="Ed25519 public key, base64 raw bytes; pinned")
    interval: int = DEFAULT_INTERVAL


# ---- metrics --------------------------------------------------------------------------------


class Point(Wire):
    name: MetricName
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, max_length=8)
    # Checked in pydantic's core, not a Python validator: this runs 60 times per check-in.
    value: Annotated[float, Field(allow_inf_nan=False)]


class Process(Wire):
    pid: Count
    name: ShortStr
    user: ShortStr = ""
    cpu_percent: Annotated[float, Field(ge=0, le=100_000)]
    rss_bytes: Count


class Sample(Wire):
    """Everything measured at one moment."""

    ts: Epoch
    points: list[Point] = Field(max_length=MAX_POINTS)
    top: list[Process] = Field(default_factory=list, max_length=20)


# ---- inventory ------------------------------------------------------------------------------


class System(Wire):
    hostname: ShortStr
    os_id: ShortStr = ""
    os_name: ShortStr = ""
    os_version: ShortStr = ""
    kernel: ShortStr = ""
    arch: ShortStr = ""
    boot_time: Epoch | None = None
    machine_id: ShortStr = ""
    timezone: ShortStr = ""


class Hardware(Wire):
    cpu_model: ShortStr = ""
    cpu_cores: Count | None = None
    cpu_threads: Count | None = None
    memory_bytes: Count | None = None
    vendor: ShortStr = ""
    model: ShortStr = ""
    serial: ShortStr = ""
    bios_version: ShortStr = ""


class Disk(Wire):
    device: ShortStr
    mount: Str
    fstype: ShortStr = ""
    total_bytes: Count | None = None


class Interface(Wire):
    name: ShortStr
    mac: ShortStr = ""
    addresses: list[ShortStr] = Field(default_factory=list, max_length=256)
    up: bool = True
    speed_mbps: Count | None = None


class Package(Wire):
    name: ShortStr
    version: ShortStr
    arch: ShortStr = ""
    source: Literal["dpkg", "rpm", "windows", "macos", "pypi", "other"] = "other"
    # dpkg's source package and version, when they differ from the binary's (libssl3 is
    # built from openssl): what Debian's and Ubuntu's vulnerability records name. Left out
    # of what is stored when empty, so that most packages are stored as before.
    source_name: ShortStr = Field("", exclude_if=lambda v: not v)
    source_version: ShortStr = Field("", exclude_if=lambda v: not v)


class Service(Wire):
    name: ShortStr
    state: ShortStr = Field(description="active, inactive, failed, activating, ...")
    sub: ShortStr = ""
    enabled: ShortStr = Field(default="", description="enabled, disabled, static, masked, ...")
    description: ShortStr = ""


class Listener(Wire):
    proto: Literal["tcp", "tcp6", "udp", "udp6"]
    address: ShortStr
    port: Port
    process: ShortStr = ""
    pid: Count | None = None
    user: ShortStr = ""


class Account(Wire):
    name: ShortStr
    uid: int = Field(ge=-1, le=2**32)
    shell: ShortStr = ""
    home: Str = ""
    admin: bool = Field(default=False, description="member of an administrators group, or uid 0")
    locked: bool | None = None
    system: bool = Field(default=False, description="a service account, not a person")


class Login(Wire):
    user: ShortStr
    terminal: ShortStr = ""
    host: ShortStr = ""
    at: Epoch


class TimeSync(Wire):
    synchronized: bool | None = None
    service: ShortStr = ""
    offset_ms: float | None = None


class Firewall(Wire):
    """Whether a host firewall filters incoming traffic, and which tool says so."""

    active: bool | None = Field(None, description="None: no firewall tool could be read")
    tool: ShortStr = Field("", description="ufw, nftables, iptables, firewalld")
    rules: Count | None = Field(None, description="filter rules in force, when countable")
    input_policy: ShortStr = Field("", description="the input chain's default: accept, drop")


MAX_UPDATES = 5000


class PendingUpdate(Wire):
    """One update the package manager would install now (see agent/collectors/updates.py)."""

    name: ShortStr
    installed: ShortStr = ""
    candidate: ShortStr
    arch: ShortStr = ""
    security: bool = False
    origin: ShortStr = Field("", description="where the candidate comes from (apt origins)")
    source: Literal["apt", "dnf", "yum", "windows", "macos", "other"] = "other"


class Updates(Wire):
    """Pending updates of every package manager present, security ones first, bounded."""

    sources: list[ShortStr] = Field(default_factory=list, max_length=16)
    total: int = Field(0, ge=0, description="pending updates, before the list was bounded")
    security_total: int = Field(0, ge=0)
    pending: list[PendingUpdate] = Field(default_factory=list, max_length=MAX_UPDATES)
    reboot_required: bool = False
    reboot_packages: list[ShortStr] = Field(default_factory=list, max_length=1000)
    last_patched: float | None = Field(None, ge=0, description="epoch seconds, last upgrade")


class Inventory(Wire):
    """Sections the agent found changed since the server last acknowledged them.

    A section left out (None) did not change; a full inventory carries them all. Each present
    section is the complete current list: the server computes what changed.
    """

    full: bool = False
    system: System | None = None
    hardware: Hardware | None = None
    disks: list[Disk] | None = Field(default=None, max_length=1000)
    interfaces: list[Interface] | None = Field(default=None, max_length=1000)
    packages: list[Package] | None = Field(default=None, max_length=MAX_ITEMS)
    services: list[Service] | None = Field(default=None, max_length=MAX_ITEMS)
    listeners: list[Listener] | None = Field(default=None, max_length=MAX_ITEMS)
    accounts: list[Account] | None = Field(default=None, max_length=MAX_ITEMS)
    logins: list[Login] | None = Field(default=None, max_length=1000)
    time_sync: TimeSync | None = None
    firewall: Firewall | None = None
    updates: Updates | None = None


SECTIONS = tuple(name for name in Inventory.model_fields if name != "full")


# ---- what the server asks the agent to watch -----------------------------------------------

ConfigRev = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{0,32}$")]
CheckId = Annotated[int, Field(ge=1, le=2**62)]
MAX_WATCHES = 500


class ProcessWatch(Wire):
    """Count the processes named `name` (or whose command line contains it, with cmdline)."""

    check: CheckId
    name: ShortStr
    cmdline: bool = False


class LogWatch(Wire):
    """Count the new lines of a log file that match a regular expression (Python syntax)."""

    check: CheckId
    path: Str
    pattern: Str
    ignore_case: bool = False


class SweepTask(Wire):
    """A discovery run the server asks this agent to make of a network it can reach."""

    run: CheckId
    network: ShortStr = Field(description="CIDR, checked by the server and again by the agent")
    ports: list[Port] = Field(default_factory=list, max_length=64)
    communities: list[ShortStr] = Field(default_factory=list, max_length=8)


class PostureTest(Wire):
    """A content test of a posture rule: `r:` a line matches, `n:` its number compares."""

    k: Literal["r", "n"]
    re: Str
    neg: bool = False
    op: Literal["<", "<=", ">", ">=", "==", "!="] | None = None
    value: float | None = None


class PostureRule(Wire):
    """One rule of a posture check, taken apart by the server (security.posture_policy)."""

    type: Literal["f", "d", "p", "c", "fact"]
    target: Str
    text: Str = ""
    neg: bool = False
    names: Str = ""
    tests: list[PostureTest] = Field(default_factory=list, max_length=20)
    where: list[tuple[ShortStr, Literal["=", "!=", "~"], ShortStr]] = Field(
        default_factory=list, max_length=20
    )
    count: tuple[Literal["<", "<=", ">", ">=", "==", "!="], Count] | None = None


class PostureCheck(Wire):
    id: ShortStr
    condition: Literal["all", "any", "none"]
    rules: list[PostureRule] = Field(max_length=50)
    requires: list[PostureRule] = Field(default_factory=list, max_length=50)
    missing: Literal["na", "fail"] = "na"


class PosturePolicy(Wire):
    """A posture policy for the agent to evaluate hourly (forewarn.agent.posture)."""

    id: ShortStr
    os: list[ShortStr] = Field(default_factory=lambda: ["linux"], max_length=3)
    checks: list[PostureCheck] = Field(max_length=500)
    requires: list[PostureRule] = Field(default_factory=list, max_length=50)


class AgentConfig(Wire):
    """What the server wants this agent to watch besides its usual metrics.

    Sent in a check-in answer when the batch's `config_rev` is not the server's; the agent
    replaces what it had with this whole document and reports the new rev from then on.
    """

    rev: ConfigRev
    processes: list[ProcessWatch] = Field(default_factory=list, max_length=MAX_WATCHES)
    logs: list[LogWatch] = Field(default_factory=list, max_length=MAX_WATCHES)
    sweeps: list[SweepTask] = Field(default_factory=list, max_length=10)
    posture: list[PosturePolicy] = Field(default_factory=list, max_length=50)


class SweepHost(Wire):
    address: ShortStr
    answered_ping: bool = False
    mac: ShortStr = ""
    open_ports: list[Port] = Field(default_factory=list, max_length=64)
    hostname: ShortStr = ""
    sys_name: ShortStr = ""
    sys_descr: Str = ""
    sys_object_id: ShortStr = ""


class SweepReport(Wire):
    """What the agent's sweep found, or why it failed (`error`)."""

    run: CheckId
    error: Str = ""
    addresses: Count = 0
    seconds: Annotated[float, Field(ge=0, le=86_400)] = 0.0
    hosts: list[SweepHost] = Field(default_factory=list, max_length=1024)


class WatchReading(Wire):
    """Words to go with a watch's numbers: the last matching log line, or why it failed."""

    check: CheckId
    ts: Epoch
    line: Str = ""
    error: Str = ""


class PostureResult(Wire):
    check: ShortStr
    status: Literal["pass", "fail", "na", "error"]
    evidence: list[Str] = Field(default_factory=list, max_length=10)


class PostureReport(Wire):
    """One evaluation of one posture policy on the agent's machine."""

    policy: ShortStr
    ts: Epoch
    seconds: Annotated[float, Field(ge=0, le=86_400)] = 0.0
    results: list[PostureResult] = Field(default_factory=list, max_length=500)


# ---- authentication events (suspicious activity) --------------------------------------------

MAX_AUTH_EVENTS = 500
AuthOutcome = Literal["success", "failure"]
AuthAction = Literal["login", "sudo", "su"]


class AuthEvent(Wire):
    """One authentication the machine logged: an SSH or console login, a sudo, an su."""

    at: Epoch
    service: ShortStr = Field(description="the program that logged it: sshd, sudo, su, login")
    action: AuthAction
    outcome: AuthOutcome
    user: ShortStr = Field("", description="the account tried (for sudo/su: who ran it)")
    source: ShortStr = Field("", description="the remote address, for network logins")
    method: ShortStr = Field("", description="password, publickey, ... when logged")
    target: ShortStr = Field("", description="sudo/su: the account switched to")
    invalid_user: bool = Field(False, description="the account does not exist")
    count: Annotated[int, Field(ge=1, le=1000)] = 1
    line: Str = Field("", description="the log line, as evidence")


class AuthSummary(Wire):
    """Events beyond a batch's bound, counted instead of sent one by one."""

    service: ShortStr
    action: AuthAction
    outcome: AuthOutcome
    user: ShortStr = ""
    source: ShortStr = ""
    count: Count
    first: Epoch
    last: Epoch


class AuthReport(Wire):
    """The authentication events read since the last batch (journald or the auth log)."""

    events: list[AuthEvent] = Field(default_factory=list, max_length=MAX_AUTH_EVENTS)
    more: list[AuthSummary] = Field(default_factory=list, max_length=MAX_AUTH_EVENTS)
    origin: ShortStr = Field("", description="journal, or the log file read")
    error: Str = Field("", description="why the log could not be read, if it could not")


# ---- signed jobs (forewarn.domain.jobs, docs/jobs.md) -----------------------------------------

MAX_JOBS = 20
JobId = Annotated[int, Field(ge=1, le=2**62)]


class JobOrder(Wire):
    """A job for the agent: the canonical envelope the server signed, and the signature."""

    id: JobId
    envelope: Annotated[str, StringConstraints(max_length=256 * 1024)]
    sig: Annotated[str, StringConstraints(max_length=200)]


class JobResult(Wire):
    """How a job ended on the agent, or why it was refused (nothing ran then)."""

    job: JobId
    state: Literal["succeeded", "failed", "refused", "timed_out"]
    exit_code: int | None = Field(None, ge=-(2**31), le=2**31)
    output: Annotated[str, StringConstraints(max_length=64 * 1024)] = ""
    output_cut: bool = False
    reason: Str = ""
    started_at: Epoch
    finished_at: Epoch


class JobRunning(Wire):
    """A job the agent started and has not finished: its result comes in a later batch."""

    job: JobId
    started_at: Epoch


# ---- check-in -------------------------------------------------------------------------------


class Batch(Wire):
    """One check-in. The agent keeps it until the server acknowledged its batch_id."""

    v: Literal[1] = WIRE_VERSION
    batch_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
    seq: Count = Field(description="increases by one per batch of this agent")
    agent_version: Annotated[str, StringConstraints(max_length=32)] = ""
    sent_at: Epoch
    samples: list[Sample] = Field(default_factory=list, max_length=MAX_SAMPLES)
    inventory: Inventory | None = None
    config_rev: ConfigRev = Field("", description="the AgentConfig rev this agent runs")
    watch: list[WatchReading] = Field(default_factory=list, max_length=MAX_WATCHES)
    sweeps: list[SweepReport] = Field(default_factory=list, max_length=10)
    posture: list[PostureReport] = Field(default_factory=list, max_length=50)
    auth: AuthReport | None = None
    stopping: bool = Field(
        False, description="the agent was told to stop (SIGTERM): its last word, not a crash"
    )
    jobs: list[JobResult] = Field(default_factory=list, max_length=MAX_JOBS)
    running: list[JobRunning] = Field(default_factory=list, max_length=MAX_JOBS)


class BatchAnswer(Wire):
    batch_id: str
    status: Literal["stored", "duplicate"]
    interval: int = DEFAULT_INTERVAL
    server_time: float
    config: AgentConfig | None = Field(None, description="present when the agent's rev is old")
    jobs: list[JobOrder] = Field(
        default_factory=list, max_length=MAX_JOBS, exclude_if=lambda v: not v
    )
