"""import report lines: an import job's result report in its own table, not one JSON value on
the job (a 200,000-row report was written and read whole)

Revision ID: i1imp0000001
Revises: h1mrg0000001
"""
import sqlalchemy as sa
from alembic import op

revision = "i1imp0000001"
down_revision = "h1mrg0000001"
branch_labels = None
depends_on = None

BATCH = 5000

jobs = sa.table("import_jobs", sa.column("id", sa.Integer), sa.column("report", sa.JSON))
lines = sa.table("import_report_lines", sa.column("id", sa.Integer),
                 sa.column("job_id", sa.Integer), sa.column("row", sa.Integer),
                 sa.column("status", sa.String), sa.column("name", sa.String),
                 sa.column("reason", sa.String),
                 sa.column("params", sa.JSON), sa.column("same_phone_as", sa.String))


def upgrade() -> None:
    op.create_table(
        "import_report_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("same_phone_as", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_import_report_lines_job_row", "import_report_lines", ["job_id", "row"],
                    unique=False)
    conn = op.get_bind()
    for job_id in conn.scalars(sa.select(jobs.c.id).order_by(jobs.c.id)).all():
        report = conn.scalar(sa.select(jobs.c.report).where(jobs.c.id == job_id)) or []
        rows = [dict(job_id=job_id, row=e["row"], status=e["status"],
                     name=(e.get("name") or None) and str(e["name"])[:200],
                     reason=e.get("reason"), params=e.get("params") or None,
                     same_phone_as=(e.get("same_phone_as") or None)
                     and str(e["same_phone_as"])[:200])
                for e in report]   # already in row order
        for start in range(0, len(rows), BATCH):
            conn.execute(sa.insert(lines), rows[start:start + BATCH])
    with op.batch_alter_table("import_jobs") as batch:
        batch.drop_column("report")
    # only now: on SQLite the batch drops the old import_jobs, deleting its rows' lines
    with op.batch_alter_table("import_report_lines") as batch:
        batch.create_foreign_key("fk_import_report_lines_job_id", "import_jobs",
                                 ["job_id"], ["id"], ondelete="CASCADE")


def downgrade() -> None:
    with op.batch_alter_table("import_jobs") as batch:
        batch.add_column(sa.Column("report", sa.JSON(), nullable=True))
    conn = op.get_bind()
    for job_id in conn.scalars(sa.select(jobs.c.id).order_by(jobs.c.id)).all():
        report = []
        for line in conn.execute(sa.select(lines).where(lines.c.job_id == job_id)
                                 .order_by(lines.c.row, lines.c.id)):
            entry = {"row": line.row, "name": line.name, "status": line.status}
            if line.reason:
                entry["reason"] = line.reason
            if line.params:
                entry["params"] = line.params
            if line.same_phone_as:
                entry["same_phone_as"] = line.same_phone_as
            report.append(entry)
        conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(report=report))
    with op.batch_alter_table("import_jobs") as batch:
        batch.alter_column("report", existing_type=sa.JSON(), nullable=False)
    # (on SQLite that batch rebuilt import_jobs, deleting the lines: already copied)
    op.drop_index("ix_import_report_lines_job_row", table_name="import_report_lines")
    op.drop_table("import_report_lines")
