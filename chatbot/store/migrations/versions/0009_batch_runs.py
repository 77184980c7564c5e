"""Batch runs: prompts sent to one or more models, each reply saved as it completes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26

``batch_runs``: one per batch, owned by a person (chatbot/batch.py). ``batch_rows``: one per
prompt and model, pending until its reply is complete or failed, so a stopped or crashed run
resumes with only the rows still pending. New tables only: no rebuild of ``messages``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False, server_default=""),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("error_code", sa.String(80), nullable=True),
        sa.Column("error_values", sa.JSON(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_batch_runs_owner_created", "batch_runs", ["owner", "created_at"])
    op.create_table(
        "batch_rows",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("batch_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("finish_reason", sa.String(40), nullable=True),
        sa.Column("error_code", sa.String(80), nullable=True),
        sa.Column("error_values", sa.JSON(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_batch_rows_run_status", "batch_rows", ["run_id", "status"])
    op.create_index("ix_batch_rows_run_position", "batch_rows", ["run_id", "position", "model"])


def downgrade() -> None:
    op.drop_index("ix_batch_rows_run_position", table_name="batch_rows")
    op.drop_index("ix_batch_rows_run_status", table_name="batch_rows")
    op.drop_table("batch_rows")
    op.drop_index("ix_batch_runs_owner_created", table_name="batch_runs")
    op.drop_table("batch_runs")
