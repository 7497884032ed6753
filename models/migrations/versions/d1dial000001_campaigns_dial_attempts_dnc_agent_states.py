"""campaigns dial attempts dnc agent states

Revision ID: d1dial000001
Revises: 3015d2e2319d

"""
from alembic import op
import sqlalchemy as sa
import models.db


revision = 'd1dial000001'
down_revision = '3015d2e2319d'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('filter_stage', sa.String(length=16), nullable=True),
    sa.Column('filter_ownership', sa.String(length=16), nullable=True),
    sa.Column('filter_query', sa.JSON(), nullable=True),
    sa.Column('caller_id', sa.String(length=40), nullable=True),
    sa.Column('ring_timeout_s', sa.Integer(), nullable=False),
    sa.Column('abandon_cap_pct', sa.Float(), nullable=False),
    sa.Column('hours_start', sa.String(length=5), nullable=False),
    sa.Column('hours_end', sa.String(length=5), nullable=False),
    sa.Column('skip_holidays', sa.Boolean(), nullable=False),
    sa.Column('max_attempts_24h', sa.Integer(), nullable=False),
    sa.Column('max_attempts_5min', sa.Integer(), nullable=False),
    sa.Column('abandon_cooldown_h', sa.Integer(), nullable=False),
    sa.Column('retry_rules', sa.JSON(), nullable=False),
    sa.Column('machine_action', sa.String(length=16), nullable=False),
    sa.Column('machine_message', sa.String(length=64), nullable=True),
    sa.Column('abandon_message', sa.String(length=64), nullable=True),
    sa.Column('schedule_start_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('schedule_end_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.db.UTCDateTime(), nullable=False),
    sa.Column('started_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('stopped_at', models.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaigns_status'), ['status'], unique=False)

    op.create_table('do_not_call',
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.Column('added_at', models.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('number')
    )
    op.create_table('agent_state_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('disposition', sa.String(length=32), nullable=True),
    sa.Column('started_at', models.db.UTCDateTime(), nullable=False),
    sa.Column('ended_at', models.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('agent_state_log', schema=None) as batch_op:
        batch_op.create_index('ix_agent_state_log_campaign_started', ['campaign_id', 'started_at'], unique=False)
        batch_op.create_index('ix_agent_state_log_user_started', ['user_id', 'started_at'], unique=False)

    op.create_table('campaign_agents',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'user_id')
    )
    with op.batch_alter_table('campaign_agents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_agents_user_id'), ['user_id'], unique=False)

    op.create_table('campaign_leads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('last_outcome', sa.String(length=16), nullable=True),
    sa.Column('last_attempt_at', models.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('campaign_leads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_leads_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_campaign_leads_pick', ['campaign_id', 'status', 'next_attempt_at'], unique=False)
        batch_op.create_index('uq_campaign_leads_campaign_customer', ['campaign_id', 'customer_id'], unique=True)

    op.create_table('dial_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('channel_id', sa.String(length=64), nullable=False),
    sa.Column('dialer_id', sa.String(length=64), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('cause', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Integer(), nullable=True),
    sa.Column('amd', sa.String(length=16), nullable=True),
    sa.Column('started_at', models.db.UTCDateTime(), nullable=False),
    sa.Column('answered_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('connected_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('ended_at', models.db.UTCDateTime(), nullable=True),
    sa.Column('talk_seconds', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lead_id'], ['campaign_leads.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel_id')
    )
    with op.batch_alter_table('dial_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dial_attempts_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index('ix_dial_attempts_campaign_started', ['campaign_id', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_dial_attempts_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dial_attempts_lead_id'), ['lead_id'], unique=False)
        batch_op.create_index('ix_dial_attempts_number_started', ['number', 'started_at'], unique=False)
        batch_op.create_index('uq_dial_attempts_open_number', ['number'], unique=True, sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))

    op.create_table('agent_states',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('attempt_id', sa.Integer(), nullable=True),
    sa.Column('since', models.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['dial_attempts.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id')
    )
    with op.batch_alter_table('agent_states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agent_states_campaign_id'), ['campaign_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('agent_states', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agent_states_campaign_id'))

    op.drop_table('agent_states')
    with op.batch_alter_table('dial_attempts', schema=None) as batch_op:
        batch_op.drop_index('uq_dial_attempts_open_number', sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))
        batch_op.drop_index('ix_dial_attempts_number_started')
        batch_op.drop_index(batch_op.f('ix_dial_attempts_lead_id'))
        batch_op.drop_index(batch_op.f('ix_dial_attempts_customer_id'))
        batch_op.drop_index('ix_dial_attempts_campaign_started')
        batch_op.drop_index(batch_op.f('ix_dial_attempts_agent_id'))

    op.drop_table('dial_attempts')
    with op.batch_alter_table('campaign_leads', schema=None) as batch_op:
        batch_op.drop_index('uq_campaign_leads_campaign_customer')
        batch_op.drop_index('ix_campaign_leads_pick')
        batch_op.drop_index(batch_op.f('ix_campaign_leads_customer_id'))

    op.drop_table('campaign_leads')
    with op.batch_alter_table('campaign_agents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_agents_user_id'))

    op.drop_table('campaign_agents')
    with op.batch_alter_table('agent_state_log', schema=None) as batch_op:
        batch_op.drop_index('ix_agent_state_log_user_started')
        batch_op.drop_index('ix_agent_state_log_campaign_started')

    op.drop_table('agent_state_log')
    op.drop_table('do_not_call')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaigns_status'))

    op.drop_table('campaigns')

