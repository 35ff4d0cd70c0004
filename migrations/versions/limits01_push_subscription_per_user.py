"""push subscriptions are unique per (user, endpoint), not per endpoint

A user posting another user's endpoint used to take the row over (and learn it existed); now
each user has their own row for an endpoint.

Revision ID: limits01
Revises: queues01
Create Date: 2026-12-01 18:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'limits01'
down_revision = 'queues01'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_push_subscriptions_endpoint'), type_='unique')
        batch_op.create_unique_constraint(
            'uq_push_subscriptions_user_endpoint', ['user_id', 'endpoint']
        )


def downgrade():
    # An endpoint may now have several rows; keep the newest of each before it is unique again.
    subs = sa.table('push_subscriptions', sa.column('id'), sa.column('endpoint'))
    newer = sa.alias(subs, 'newer')
    op.execute(
        subs.delete().where(
            sa.exists().where(newer.c.endpoint == subs.c.endpoint, newer.c.id > subs.c.id)
        )
    )
    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.drop_constraint('uq_push_subscriptions_user_endpoint', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_push_subscriptions_endpoint'), ['endpoint'])
