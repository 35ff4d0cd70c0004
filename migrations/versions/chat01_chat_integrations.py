"""chat integrations: tenant Slack/Discord incoming webhooks, and deliveries that point at one

Revision ID: chat01
Revises: inboxux01
Create Date: 2026-12-01 21:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "chat01"
down_revision = "inboxux01"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "chat_integrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("types", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_chat_integrations_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_integrations")),
    )
    with op.batch_alter_table("chat_integrations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chat_integrations_tenant_id"), ["tenant_id"], unique=False
        )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("integration_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_deliveries_integration_id_chat_integrations"),
            "chat_integrations",
            ["integration_id"],
            ["id"],
        )


def downgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_deliveries_integration_id_chat_integrations"), type_="foreignkey"
        )
        batch_op.drop_column("integration_id")
    with op.batch_alter_table("chat_integrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_integrations_tenant_id"))
    op.drop_table("chat_integrations")
