"""inbox states (seen, archived, snoozed), group keys and full-text search

Adds seen_at, archived_at, snoozed_until and group_key to notifications, a covering index for
the one stats aggregate, the snooze due-time index, and full-text search: an FTS5 table kept
by triggers on SQLite, a GIN index over to_tsvector('simple', title || ' ' || body) on
PostgreSQL.

Revision ID: inbox01
Revises: limits01
Create Date: 2026-12-01 21:00:00

"""
from alembic import op
import sqlalchemy as sa

from notifier.models import PG_FTS_DDL, SQLITE_FTS_DDL, SQLITE_FTS_DROP


# revision identifiers, used by Alembic.
revision = 'inbox01'
down_revision = 'limits01'
branch_labels = None
depends_on = None



def upgrade():
    # Plain ADD COLUMNs (no batch copy on SQLite), so the FTS triggers below stay attached.
    for name, type_ in (
        ('seen_at', sa.DateTime()),
        ('archived_at', sa.DateTime()),
        ('snoozed_until', sa.DateTime()),
        ('group_key', sa.String(length=255)),
    ):
        op.add_column('notifications', sa.Column(name, type_, nullable=True))
    op.create_index(
        'ix_notifications_states',
        'notifications',
        ['user_id', 'deleted_at', 'archived_at', 'snoozed_until', 'read_at', 'seen_at'],
    )
    op.create_index('ix_notifications_snoozed', 'notifications', ['snoozed_until'])
    op.create_index('ix_notifications_group', 'notifications', ['user_id', 'group_key'])
    # Everything already in the inbox counts as seen: nobody should get a badge for old rows.
    op.execute("UPDATE notifications SET seen_at = created_at")
    if op.get_bind().dialect.name == 'sqlite':
        for stmt in SQLITE_FTS_DDL:
            op.execute(stmt)
        op.execute("INSERT INTO notifications_fts(notifications_fts) VALUES ('rebuild')")
    else:
        op.execute(PG_FTS_DDL)


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        for trigger in ('ai', 'ad', 'au'):
            op.execute(f"DROP TRIGGER IF EXISTS notifications_fts_{trigger}")
        op.execute(SQLITE_FTS_DROP)
    else:
        op.execute("DROP INDEX IF EXISTS ix_notifications_fts")
    op.drop_index('ix_notifications_group', table_name='notifications')
    op.drop_index('ix_notifications_snoozed', table_name='notifications')
    op.drop_index('ix_notifications_states', table_name='notifications')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        for name in ('group_key', 'snoozed_until', 'archived_at', 'seen_at'):
            batch_op.drop_column(name)
