"""tenant embed settings: the encrypted embed secret and the allowed host origins

Revision ID: ws01
Revises: cluster01
Create Date: 2026-12-01 21:15:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ws01'
down_revision = 'cluster01'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'tenant_embeds',
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('secret_enc', sa.String(length=200), nullable=False),
        sa.Column('origins', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['tenant_id'], ['tenants.id'],
            name=op.f('fk_tenant_embeds_tenant_id_tenants'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_tenant_embeds')),
    )


def downgrade():
    op.drop_table('tenant_embeds')
