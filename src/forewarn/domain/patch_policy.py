"""Patch policies: what to install on a machine, when, and whether to reboot (docs/patching.md).

A policy is set once; `decide` is asked every few minutes for every machine under it and says,
for each pending update, install now or wait and why, and whether to reboot now.

An update (a package at one candidate version) is *eligible* when all of these hold:
- it is not held (a hold is a package-name glob; a held package is never approved);
- its class is approved automatically (security updates: auto or manual; other updates:
  auto, manual or never);
- it was first seen at least `deferral_days` ago;
- the machine is in the pilot ring (it carries the pilot tag), or the pilot *passed* it and
  `ring_delay_days` have gone by since the pilot first installed it. Without a pilot tag there
  are no rings.

The pilot passes a version when (`pilot_verdict`): at least one pilot machine installed it
successfully; no pilot install of it failed (failed, timed out or refused); and every pilot
machine that installed it is healthy now: its agent checked in after the install finished and
is online, and none of its checks is hard CRITICAL since a moment after the install finished
(a check already critical before the install is not the update's doing). A version no pilot
machine has installed is waiting for the pilot, however old.

An eligible update installs now when the machine is online and:
- the policy's install window is open now; or
- catch-up: the window's last occurrence ended less than `grace_hours` ago, the machine was
  away for some of it (its agent has been online only since after the occurrence began), the
  update was eligible before that occurrence ended, and no install of it ran during that
  occurrence. After the grace it waits for the next window; a machine online all through the
  window had its chance and waits too.
An update tried (an install job for it ran) since the current occurrence began waits for the
next one: a failing install is not retried every few minutes.

A reboot is only ever decided inside an open window (never in catch-up), when nothing is to
be installed now and no install of this machine is unfinished, at most once per occurrence:
`never` never; `when_required` when the machine says a reboot is required; `always` when it
says so or an install of the policy succeeded during this occurrence.

Pure: the policy, the machine, the pilot's results and the time come in as arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from fnmatch import fnmatchcase
from zoneinfo import ZoneInfo

from forewarn.domain.maintenance import Repeat, Window

MAX_DEFERRAL_DAYS = 365
MAX_RING_DELAY_DAYS = 90
MAX_GRACE_HOURS = 14 * 24
DEFAULT_GRACE_HOURS = 72
MAX_HOLDS = 100
MIN_WINDOW_MINUTES = 15
# The first day a policy's window may occur on (any date before every real use will do).
WINDOW_EPOCH = date(2000, 1, 3)
# How far ahead to look for the next window occurrence (a monthly window is at most 31 days).
LOOKAHEAD = timedelta(days=62)


class Approval(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"
    NEVER = "never"


class Reboot(StrEnum):
    NEVER = "never"
    WHEN_REQUIRED = "when_required"
    ALWAYS = "always"


# A package name glob: what Debian allows in a name, plus * ? and [ ].
HOLD_PATTERN = r"^[a-z0-9*?\[\]][a-z0-9+.*?\[\]-]{0,127}$"


@dataclass(frozen=True)
class Policy:
    window: Window  # the install window, in the organization's time zone
    security: Approval = Approval.AUTO
    other: Approval = Approval.MANUAL
    deferral_days: int = 0
    pilot_tag: str | None = None
    ring_delay_days: int = 7
    reboot: Reboot = Reboot.WHEN_REQUIRED
    holds: tuple[str, ...] = ()
    grace_hours: int = DEFAULT_GRACE_HOURS

    def __post_init__(self) -> None:
        if self.security is Approval.NEVER:
            raise ValueError("security updates are approved automatically or by hand, not never")
        if not 0 <= self.deferral_days <= MAX_DEFERRAL_DAYS:
            raise ValueError(f"deferral is 0 to {MAX_DEFERRAL_DAYS} days")
        if not 0 <= self.ring_delay_days <= MAX_RING_DELAY_DAYS:
            raise ValueError(f"the ring delay is 0 to {MAX_RING_DELAY_DAYS} days")
        if not 0 <= self.grace_hours <= MAX_GRACE_HOURS:
            raise ValueError(f"the catch-up grace is 0 to {MAX_GRACE_HOURS} hours")
        if len(self.holds) > MAX_HOLDS:
            raise ValueError(f"at most {MAX_HOLDS} holds")

    def held_by(self, name: str) -> str | None:
        """The hold pattern that keeps this package back (an :arch suffix is ignored)."""
        bare = name.split(":", 1)[0]
        return next((h for h in self.holds if fnmatchcase(bare, h)), None)

    def in_pilot(self, tags: Iterable[str]) -> bool:
        return self.pilot_tag is not None and self.pilot_tag in set(tags)


@dataclass(frozen=True)
class Update:
    name: str
    version: str
    security: bool
    first_seen: datetime

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.version)


@dataclass(frozen=True)
class Device:
    asset_id: int
    tags: frozenset[str]
    online: bool
    reboot_required: bool
    pending: tuple[Update, ...]
    # When an install job for each (name, version) last ran on this machine (delivered).
    attempted: Mapping[tuple[str, str], datetime] = field(default_factory=dict)
    busy: bool = False  # an install job of this machine is not finished
    installed_at: datetime | None = None  # the last successful install job's end
    rebooted_at: datetime | None = None  # the last reboot job issued
    # Since when the agent has been online without a break (None: offline or unknown).
    online_since: datetime | None = None


@dataclass(frozen=True)
class PilotInstall:
    """One pilot machine's install job outcome for one version."""

    asset_id: int
    name: str
    version: str
    ok: bool
    finished_at: datetime


@dataclass(frozen=True)
class PilotHealth:
    """A pilot machine now: when its agent was last seen, whether online, and since when
    each of its hard-CRITICAL checks has been critical."""

    online: bool
    last_seen: datetime | None
    critical_since: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class Verdict:
    passed_at: datetime | None  # the pilot's first successful install (None: not passed)
    reason: str  # why not passed ("" when passed)


def pilot_verdict(
    installs: Iterable[PilotInstall], health: Mapping[int, PilotHealth]
) -> dict[tuple[str, str], Verdict]:
    """Per (name, version) the pilot ring installed: passed (and since when) or why not."""
    by_key: dict[tuple[str, str], list[PilotInstall]] = {}
    for i in installs:
        by_key.setdefault((i.name, i.version), []).append(i)
    out: dict[tuple[str, str], Verdict] = {}
    for key, runs in by_key.items():
        out[key] = _verdict(key, runs, health)
    return out


def _verdict(
    key: tuple[str, str], runs: list[PilotInstall], health: Mapping[int, PilotHealth]
) -> Verdict:
    failed = [r for r in runs if not r.ok]
    if failed:
        return Verdict(None, f"the pilot's install of {key[0]} {key[1]} failed")
    first = min(r.finished_at for r in runs)
    for r in runs:
        h = health.get(r.asset_id)
        if h is None or not h.online or h.last_seen is None or h.last_seen <= r.finished_at:
            return Verdict(None, "a pilot machine has not been back online since it installed")
        if any(since > r.finished_at for since in h.critical_since):
            return Verdict(None, "a pilot machine has a new critical check since it installed")
    return Verdict(first, "")


@dataclass(frozen=True)
class Wait:
    name: str
    version: str
    reason: str


@dataclass(frozen=True)
class Decision:
    install: tuple[Update, ...]
    waiting: tuple[Wait, ...]
    reboot: bool
    # The occurrence the installs and reboot belong to (for a catch-up: the missed one) and
    # when the jobs must have run by (window end, or the end of the catch-up grace).
    window: tuple[datetime, datetime] | None
    deadline: datetime | None
    catch_up: bool
    next_window: tuple[datetime, datetime] | None
    note: str  # one line for people: "installing now (window until 04:00)", "waiting ..."


def current(window: Window, now: datetime) -> tuple[datetime, datetime] | None:
    """The occurrence open at `now`, if any."""
    return next(iter(window.occurrences(now, now + timedelta(microseconds=1))), None)


def next_occurrence(window: Window, now: datetime) -> tuple[datetime, datetime] | None:
    """The first occurrence starting after now (within LOOKAHEAD)."""
    return next((o for o in window.occurrences(now, now + LOOKAHEAD) if o[0] > now), None)


def last_ended(
    window: Window, now: datetime, within: timedelta
) -> tuple[datetime, datetime] | None:
    """The latest occurrence that ended at or before now and less than `within` ago."""
    found = None
    for s, e in window.occurrences(now - within - window.duration, now):
        if e <= now and now - e < within:
            found = (s, e)
    return found


def eligible_since(
    policy: Policy, device: Device, update: Update, pilot: Mapping[tuple[str, str], Verdict]
) -> tuple[datetime | None, str]:
    """(since when the update may be installed, what holds it until then: "deferred" or
    "waiting for pilot") or (None, why it waits regardless of windows). `since` is the later
    of the deferral's end and the ring's release."""
    hold = policy.held_by(update.name)
    if hold is not None:
        return None, f"held: {hold}"
    approval = policy.security if update.security else policy.other
    if approval is Approval.NEVER:
        return None, "never installed by this policy (not a security update)"
    if approval is Approval.MANUAL:
        what = "security update" if update.security else "update"
        return None, f"{what}: approve by hand"
    since = update.first_seen + timedelta(days=policy.deferral_days)
    label = "deferred"
    if policy.pilot_tag is not None and not policy.in_pilot(device.tags):
        verdict = pilot.get(update.key)
        if verdict is None:
            return None, f"waiting for pilot ({policy.pilot_tag}) to install it"
        if verdict.passed_at is None:
            return None, f"stopped: {verdict.reason}"
        released = verdict.passed_at + timedelta(days=policy.ring_delay_days)
        if released > since:
            since, label = released, "waiting for pilot"
    return since, label


def decide(
    policy: Policy,
    device: Device,
    pilot: Mapping[tuple[str, str], Verdict],
    now: datetime,
) -> Decision:
    """What the policy does on this machine now (see the module's docstring)."""
    window = policy.window
    tz = window.tz
    open_now = current(window, now)
    grace = timedelta(hours=policy.grace_hours)
    missed = None if open_now is not None or not grace else last_ended(window, now, grace)
    upcoming = next_occurrence(window, now)
    install: list[Update] = []
    waiting: list[Wait] = []
    catch_up = False
    for u in sorted(device.pending, key=lambda u: u.key):
        since, why = eligible_since(policy, device, u, pilot)
        tried = device.attempted.get(u.key)
        if since is None:
            waiting.append(Wait(u.name, u.version, why))
        elif since > now:
            waiting.append(Wait(u.name, u.version, f"{why} until {_at(since, tz)}"))
        elif open_now is not None:
            if tried is not None and tried >= open_now[0]:
                waiting.append(Wait(u.name, u.version, _retry(upcoming, tz)))
            elif not device.online:
                waiting.append(Wait(u.name, u.version, "offline: installs when back in time"))
            else:
                install.append(u)
        elif (
            missed is not None
            and since <= missed[1]
            and (tried is None or tried < missed[0])
            and _missed(device, missed)
        ):
            if device.online:
                install.append(u)
                catch_up = True
            else:
                waiting.append(Wait(u.name, u.version, "offline: catches up when back"))
        else:
            waiting.append(Wait(u.name, u.version, _outside(upcoming, tz)))
    if install and device.busy:  # one install at a time: these wait for it to finish
        waiting.extend(
            Wait(u.name, u.version, "an install job is not finished yet") for u in install
        )
        install, catch_up = [], False
    reboot = open_now is not None and _reboot(policy, device, open_now, bool(install))
    deadline = None
    if install or reboot:
        if open_now is not None:
            deadline = open_now[1]
        elif missed is not None:
            deadline = missed[1] + grace
    return Decision(
        install=tuple(install),
        waiting=tuple(waiting),
        reboot=reboot,
        window=open_now if open_now is not None else (missed if catch_up else None),
        deadline=deadline,
        catch_up=catch_up,
        next_window=upcoming,
        note=_note(install, waiting, reboot, catch_up, open_now, tz),
    )


def _missed(device: Device, occurrence: tuple[datetime, datetime]) -> bool:
    """Whether the machine was away for some of the occurrence: offline now, or online only
    since after it began (a machine online all through had its chance)."""
    return not device.online or device.online_since is None or device.online_since > occurrence[0]


def _reboot(
    policy: Policy, device: Device, occurrence: tuple[datetime, datetime], installing: bool
) -> bool:
    if policy.reboot is Reboot.NEVER or installing or device.busy or not device.online:
        return False
    if device.rebooted_at is not None and device.rebooted_at >= occurrence[0]:
        return False
    installed_here = device.installed_at is not None and device.installed_at >= occurrence[0]
    if policy.reboot is Reboot.ALWAYS:
        return device.reboot_required or installed_here
    return device.reboot_required


def reboot_allowed(policy: Policy, now: datetime) -> tuple[datetime, datetime] | None:
    """The open occurrence a reboot asked for now may run in; None: refused (outside)."""
    if policy.reboot is Reboot.NEVER:
        return None
    return current(policy.window, now)


def _at(moment: datetime, tz: str) -> str:
    """A moment as people of the organization read it: local time and the zone's name."""
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")


def span(occurrence: tuple[datetime, datetime], tz: str) -> str:
    """Like "2026-11-03 02:00-04:00 CET" (with an en dash; the end date when another day)."""
    s, e = (m.astimezone(ZoneInfo(tz)) for m in occurrence)
    end = f"{e:%H:%M}" if e.date() == s.date() else f"{e:%Y-%m-%d %H:%M}"
    return f"{s:%Y-%m-%d %H:%M}\u2013{end} {s:%Z}"


def _outside(upcoming: tuple[datetime, datetime] | None, tz: str) -> str:
    if upcoming is None:
        return "outside window (no window ahead)"
    return f"outside window (next: {span(upcoming, tz)})"


def _retry(upcoming: tuple[datetime, datetime] | None, tz: str) -> str:
    nxt = span(upcoming, tz) if upcoming is not None else "none ahead"
    return f"tried in this window; tries again in the next ({nxt})"


def _note(
    install: list[Update],
    waiting: list[Wait],
    reboot: bool,
    catch_up: bool,
    open_now: tuple[datetime, datetime] | None,
    tz: str,
) -> str:
    if install:
        n = f"{len(install)} update{'s' if len(install) != 1 else ''}"
        if catch_up:
            return f"catching up: installing {n} now (missed its window)"
        assert open_now is not None
        return f"installing {n} now (window {span(open_now, tz)})"
    if reboot:
        return "rebooting now (inside the window)"
    if not waiting:
        return "up to date"
    return "; ".join(sorted({w.reason for w in waiting}))


def install_window(start: time, minutes: int, weekdays: Iterable[int], tz: str) -> Window:
    """A policy's install window: every day (no weekdays) or on the given ISO weekdays, from
    a local wall-clock time for some minutes, in the organization's time zone. Evaluated by
    the maintenance windows' own evaluator (domain.maintenance.Window)."""
    days = frozenset(weekdays)
    if not MIN_WINDOW_MINUTES <= minutes <= 24 * 60:
        raise ValueError(
            f"an install window lasts {MIN_WINDOW_MINUTES} minutes to 24 hours "
            "(policies are applied every 5 minutes)"
        )
    return Window(
        start=datetime.combine(WINDOW_EPOCH, start),
        duration=timedelta(minutes=minutes),
        tz=tz,
        repeat=Repeat.WEEKLY if days else Repeat.DAILY,
        weekdays=days,
    )
