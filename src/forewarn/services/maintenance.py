"""Maintenance windows: planned work during which checks run but nothing is notified."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from forewarn.domain.inventory import Role
from forewarn.domain.maintenance import Repeat, Window, covers, merge
from forewarn.services import audit
from forewarn.services.context import Context
from forewarn.services.errors import invalid
from forewarn.services.schemas import MaintenanceCreate, MaintenanceOut
from forewarn.services.scope import Actor, get_in_scope, get_org_in_scope
from forewarn.store.bulk import select_in
from forewarn.store.models import Asset, MaintenanceWindow, Organization, Site


@dataclass(frozen=True)
class Scoped:
    """A window and what it covers: its organization, maybe only a site or an asset."""

    org_id: int
    site_id: int | None
    asset_id: int | None
    window: Window

    def covers(self, org_id: int, site_id: int | None, asset_id: int) -> bool:
        return org_id == self.org_id and covers(self.site_id, self.asset_id, site_id, asset_id)


def to_window(row: MaintenanceWindow, tz: str) -> Window:
    days = frozenset(int(d) for d in row.weekdays.split(",") if d)
    return Window(
        start=row.start_local,
        duration=timedelta(minutes=row.duration_min),
        tz=tz,
        repeat=Repeat(row.repeat),
        weekdays=days,
        until=row.until,
    )


# Whether any of some organizations has a window, read on the driver's cursor (see windows_of).
_ANY_WINDOW = "SELECT org_id FROM maintenance_windows WHERE org_id IN ({in}) LIMIT 1"


def windows_of(session: Session, org_ids: Iterable[int]) -> list[Scoped]:
    ids = sorted(set(org_ids))
    if not ids:
        return []
    # Every group of check results asks, and most organizations have no window: a plain read
    # says so in ~4 us, where the ORM query costs ~130 us even when it finds nothing.
    if not any(select_in(session, _ANY_WINDOW, ids[i : i + 500]) for i in range(0, len(ids), 500)):
        return []
    rows = session.execute(
        select(MaintenanceWindow, Organization.timezone)
        .join(Organization, Organization.id == MaintenanceWindow.org_id)
        .where(MaintenanceWindow.org_id.in_(ids))
    ).all()
    return [Scoped(r.org_id, r.site_id, r.asset_id, to_window(r, tz)) for r, tz in rows]


def active(
    windows: list[Scoped], org_id: int, site_id: int | None, asset_id: int, at: datetime
) -> bool:
    return any(w.covers(org_id, site_id, asset_id) and w.window.active(at) for w in windows)


def open_until(
    windows: list[Scoped], org_id: int, site_id: int | None, asset_id: int, at: datetime
) -> datetime | None:
    """The end of the maintenance covering the asset at `at` (the latest-ending open
    occurrence), or None when none is open."""
    ends = [
        end
        for w in windows
        if w.covers(org_id, site_id, asset_id)
        for start, end in w.window.occurrences(at, at + timedelta(microseconds=1))
    ]
    return max(ends, default=None)


def intervals(
    windows: list[Scoped],
    org_id: int,
    site_id: int | None,
    asset_id: int,
    frm: datetime,
    to: datetime,
) -> list[tuple[datetime, datetime]]:
    """Maintenance time covering an asset over [frm, to), merged."""
    out: list[tuple[datetime, datetime]] = []
    for w in windows:
        if w.covers(org_id, site_id, asset_id):
            out.extend(w.window.occurrences(frm, to))
    return merge(out)


# --- managing windows -----------------------------------------------------------------------


def _out(row: MaintenanceWindow, tz: str, now: datetime) -> MaintenanceOut:
    w = to_window(row, tz)
    upcoming = next(w.occurrences(now, now + timedelta(days=400)), None)
    return MaintenanceOut(
        id=row.id,
        org_id=row.org_id,
        site_id=row.site_id,
        asset_id=row.asset_id,
        name=row.name,
        start_local=row.start_local,
        duration_min=row.duration_min,
        repeat=row.repeat,
        weekdays=sorted(w.weekdays),
        until=row.until,
        active_now=w.active(now),
        next_start=upcoming[0] if upcoming else None,
    )


def create(ctx: Context, actor: Actor, data: MaintenanceCreate) -> MaintenanceOut:
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        org = get_org_in_scope(session, actor, data.org_id, Role.TECHNICIAN)
        if data.site_id is not None:
            site = session.get(Site, data.site_id)
            if site is None or site.org_id != org.id:
                raise invalid("site not found in this organization")
        if data.asset_id is not None:
            asset = session.get(Asset, data.asset_id)
            if asset is None or asset.org_id != org.id:
                raise invalid("asset not found in this organization")
        window = MaintenanceWindow(
            org_id=org.id,
            site_id=data.site_id,
            asset_id=data.asset_id,
            name=data.name,
            start_local=data.start_local.replace(second=0, microsecond=0),
            duration_min=data.duration_min,
            repeat=data.repeat,
            weekdays=",".join(str(d) for d in sorted(set(data.weekdays))),
            until=data.until,
            created_at=now,
        )
        try:
            to_window(window, org.timezone)
        except ValueError as exc:
            raise invalid(str(exc)) from None
        session.add(window)
        session.flush()
        audit.record(
            session,
            ctx.clock,
            actor,
            "maintenance.create",
            entity="maintenance_window",
            entity_id=window.id,
            org_id=org.id,
            after=audit.snapshot(window),
        )
        return _out(window, org.timezone, now)


def list_(ctx: Context, actor: Actor, org_id: int) -> list[MaintenanceOut]:
    now = ctx.clock.now()
    with ctx.db.read() as session:
        org = get_org_in_scope(session, actor, org_id)
        rows = session.scalars(
            select(MaintenanceWindow)
            .where(MaintenanceWindow.org_id == org_id)
            .order_by(MaintenanceWindow.id)
        )
        return [_out(r, org.timezone, now) for r in rows]


def delete(ctx: Context, actor: Actor, window_id: int) -> None:
    with ctx.db.transaction() as session:
        row = get_in_scope(session, actor, MaintenanceWindow, window_id, Role.TECHNICIAN)
        before = audit.snapshot(row)
        session.delete(row)
        session.flush()
        audit.record(
            session,
            ctx.clock,
            actor,
            "maintenance.delete",
            entity="maintenance_window",
            entity_id=window_id,
            org_id=before["org_id"],
            before=before,
        )
