"""scheduled notifications: status, error and failed_at, so a failed row is set aside

Revision ID: queues01
Revises: wtsessions01
Create Date: 2026-12-01 18:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'queues01'
down_revision = 'wtsessions01'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('scheduled_notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=10), server_default='scheduled', nullable=False))
        batch_op.add_column(sa.Column('error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('failed_at', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_scheduled_notifications_due', ['status', 'send_at'], unique=False)
    # Rows released before this migration keep their sent_at: mark them sent.
    op.execute("UPDATE scheduled_notifications SET status = 'sent' WHERE sent_at IS NOT NULL")


def downgrade():
    with op.batch_alter_table('scheduled_notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_scheduled_notifications_due')
        batch_op.drop_column('failed_at')
        batch_op.drop_column('error')
        batch_op.drop_column('status')
