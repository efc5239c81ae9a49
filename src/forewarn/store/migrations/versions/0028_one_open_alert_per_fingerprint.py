"""one open alert per fingerprint

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-27 02:31:32.121248

A partial unique index on alerts.fingerprint where the alert is not resolved: the rule "one
open alert per problem" was kept only by services.alerts reading before it inserted, which
two transactions at once (two pollers on PostgreSQL) could both pass.

A database that already holds such twins could not take the index: before it is made, every
open alert of a fingerprint but its oldest (lowest id) is resolved by "upgrade", as of its
last firing, with an event in its timeline that says why.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

OPEN = sa.text("state != 'resolved'")

# An open alert with an older open alert of the same fingerprint.
_TWIN = (
    "state != 'resolved' AND EXISTS (SELECT 1 FROM alerts older"
    " WHERE older.fingerprint = alerts.fingerprint AND older.state != 'resolved'"
    " AND older.id < alerts.id)"
)


def upgrade() -> None:
    op.execute(
        "INSERT INTO alert_events (alert_id, at, kind, detail) "
        "SELECT id, last_fired_at, 'resolved', "
        "'resolved by the upgrade: a second open alert of one problem (an older one is open)' "
        f"FROM alerts WHERE {_TWIN}"
    )
    op.execute(
        "UPDATE alerts SET state = 'resolved', resolved_at = last_fired_at, "
        f"resolved_by = 'upgrade', notify_at = NULL WHERE {_TWIN}"
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            "uq_alerts_open_fingerprint",
            ["fingerprint"],
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("uq_alerts_open_fingerprint", sqlite_where=OPEN, postgresql_where=OPEN)
