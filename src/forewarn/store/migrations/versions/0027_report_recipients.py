"""monthly report recipients and report deliveries

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-27 00:50:47.669006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import forewarn.store.types

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("created_at", forewarn.store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_report_recipients_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_report_recipients_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_recipients")),
        sa.UniqueConstraint("org_id", "channel_id", name="uq_report_recipients_org_channel"),
    )
    with op.batch_alter_table("report_recipients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_recipients_org_id"), ["org_id"], unique=False)

    with op.batch_alter_table("client_reports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("queued_at", forewarn.store.types.UTCDateTime(), nullable=True)
        )

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("report_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_deliveries_report_id_client_reports"),
            "client_reports",
            ["report_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_deliveries_report_id_client_reports"), type_="foreignkey"
        )
        batch_op.drop_column("report_id")

    with op.batch_alter_table("client_reports", schema=None) as batch_op:
        batch_op.drop_column("queued_at")

    with op.batch_alter_table("report_recipients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_recipients_org_id"))

    op.drop_table("report_recipients")
