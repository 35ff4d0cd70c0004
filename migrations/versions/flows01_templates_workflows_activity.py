"""templates, workflows and their runs, activity hours; users.locale, tenant branding, variant

Revision ID: flows01
Revises: ws01
Create Date: 2026-12-02 00:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'flows01'
down_revision = 'ws01'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('locale', sa.String(length=10), server_default='en', nullable=False))
    with op.batch_alter_table('tenants') as batch:
        batch.add_column(sa.Column('brand_color', sa.String(length=7), nullable=True))
        batch.add_column(sa.Column('logo_url', sa.String(length=500), nullable=True))
    with op.batch_alter_table('notifications') as batch:
        batch.add_column(sa.Column('variant', sa.String(length=40), nullable=True))

    op.create_table(
        'templates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('type', sa.String(length=64), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('locale', sa.String(length=10), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('subject', sa.Text(), nullable=True),
        sa.Column('html', sa.Text(), nullable=True),
        sa.Column('variants', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_templates_tenant_id_tenants'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_templates')),
        sa.UniqueConstraint('tenant_id', 'type', 'channel', 'locale', name='uq_templates_key'),
    )
    op.create_table(
        'workflows',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('type', sa.String(length=64), nullable=False),
        sa.Column('steps', sa.JSON(), nullable=False),
        sa.Column('throttle', sa.JSON(), nullable=True),
        sa.Column('optimize_send_time', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_workflows_tenant_id_tenants'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_workflows')),
        sa.UniqueConstraint('tenant_id', 'type', name='uq_workflows_type'),
    )
    op.create_table(
        'workflow_runs',
        sa.Column('id', BigId, nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('workflow_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('notification_id', sa.BigInteger(), nullable=True),
        sa.Column('type', sa.String(length=64), nullable=False),
        sa.Column('steps', sa.JSON(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('due_at', sa.DateTime(), nullable=False),
        sa.Column('locked_until', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_workflow_runs_tenant_id_tenants'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_workflow_runs_user_id_users'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['workflow_id'], ['workflows.id'],
                                name=op.f('fk_workflow_runs_workflow_id_workflows'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_runs')),
    )
    op.create_index('ix_workflow_runs_due', 'workflow_runs', ['status', 'due_at'])
    op.create_index('ix_workflow_runs_notification', 'workflow_runs', ['notification_id'])
    op.create_index('ix_workflow_runs_workflow', 'workflow_runs', ['workflow_id', 'id'])
    op.create_table(
        'workflow_steps',
        sa.Column('id', BigId, nullable=False),
        sa.Column('run_id', BigId, nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=True),
        sa.Column('delivery_id', sa.BigInteger(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['workflow_runs.id'],
                                name=op.f('fk_workflow_steps_run_id_workflow_runs'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_steps')),
    )
    op.create_index('ix_workflow_steps_run', 'workflow_steps', ['run_id', 'position'])
    op.create_table(
        'activity_hours',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('hour', sa.Integer(), nullable=False),
        sa.Column('reads', sa.Integer(), nullable=False),
        sa.Column('clicks', sa.Integer(), nullable=False),
        sa.Column('connects', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_activity_hours_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'day', 'hour', name=op.f('pk_activity_hours')),
    )


def downgrade():
    op.drop_table('activity_hours')
    op.drop_index('ix_workflow_steps_run', table_name='workflow_steps')
    op.drop_table('workflow_steps')
    op.drop_index('ix_workflow_runs_workflow', table_name='workflow_runs')
    op.drop_index('ix_workflow_runs_notification', table_name='workflow_runs')
    op.drop_index('ix_workflow_runs_due', table_name='workflow_runs')
    op.drop_table('workflow_runs')
    op.drop_table('workflows')
    op.drop_table('templates')
    with op.batch_alter_table('notifications') as batch:
        batch.drop_column('variant')
    with op.batch_alter_table('tenants') as batch:
        batch.drop_column('logo_url')
        batch.drop_column('brand_color')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('locale')
