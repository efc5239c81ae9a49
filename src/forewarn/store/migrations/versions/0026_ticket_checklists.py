"""checklists on tickets (the template started, its steps) and an organization's own templates

Revision ID: 0026
Revises: 0024
Create Date: 2026-11-27 00:27:29.849229
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import forewarn.store.types

revision = "0026"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "org_checklists",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", forewarn.store.types.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_org_checklists_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_org_checklists")),
    )
    op.create_table(
        "ticket_checklists",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("template", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("started_at", forewarn.store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_ticket_checklists_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_checklists_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_ticket_checklists")),
    )
    with op.batch_alter_table("ticket_checklists", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_checklists_org_id"), ["org_id"], unique=False)

    op.create_table(
        "ticket_checklist_steps",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("safeguards", sa.JSON(), nullable=False),
        sa.Column("done_at", forewarn.store.types.UTCDateTime(), nullable=True),
        sa.Column("done_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket_checklists.ticket_id"],
            name=op.f("fk_ticket_checklist_steps_ticket_id_ticket_checklists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", "position", name=op.f("pk_ticket_checklist_steps")),
    )


def downgrade() -> None:
    op.drop_table("ticket_checklist_steps")
    with op.batch_alter_table("ticket_checklists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_checklists_org_id"))

    op.drop_table("ticket_checklists")
    op.drop_table("org_checklists")
