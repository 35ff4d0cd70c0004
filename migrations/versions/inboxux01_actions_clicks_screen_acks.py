"""notification actions and decision path; action clicks; time-to-screen acks

Revision ID: inboxux01
Revises: inbox01
Create Date: 2026-12-01 21:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'inboxux01'
down_revision = 'inbox01'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actions', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('decision', sa.JSON(), nullable=True))
    op.create_table(
        'action_clicks',
        sa.Column('id', BigId, nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('notification_id', sa.BigInteger(), nullable=False),
        sa.Column('action_id', sa.String(length=64), nullable=False),
        sa.Column('type', sa.String(length=64), nullable=False),
        sa.Column('clicked_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id']),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('action_clicks', schema=None) as batch_op:
        batch_op.create_index('ix_action_clicks_tenant', ['tenant_id', 'clicked_at'])
        batch_op.create_index(batch_op.f('ix_action_clicks_user_id'), ['user_id'])
        batch_op.create_index(batch_op.f('ix_action_clicks_notification_id'), ['notification_id'])
    op.create_table(
        'screen_acks',
        sa.Column('id', BigId, nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('notification_id', sa.BigInteger(), nullable=False),
        sa.Column('latency_ms', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id']),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'notification_id', name='uq_screen_acks_user_notification'),
    )
    with op.batch_alter_table('screen_acks', schema=None) as batch_op:
        batch_op.create_index('ix_screen_acks_tenant', ['tenant_id', 'created_at'])


def downgrade():
    op.drop_table('screen_acks')
    op.drop_table('action_clicks')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('decision')
        batch_op.drop_column('actions')
