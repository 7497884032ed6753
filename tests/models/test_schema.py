"""The migrations build exactly the tables the models describe, and every refusal has text."""
import re

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from models.db import Base
from models.messages import MESSAGES, render

from tests.repo_paths import ROOT


def test_migrations_match_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)
    assert diff == []


def test_every_error_key_has_both_languages():
    root = ROOT / "models"
    source = "\n".join(p.read_text() for p in root.rglob("*.py"))
    keys = set(re.findall(r'\b(?:key = |[A-Z]\w+\(\s*)"([a-z_]+\.[a-z_.]+)"', source))
    assert len(keys) > 20
    keys = {k for k in keys if not k.endswith(".id")}  # ForeignKey("table.id")
    missing = keys - set(MESSAGES)
    assert not missing
    for zh, en in MESSAGES.values():
        assert zh and en and zh != en
    assert render("claim.quota_exceeded", "en", quota=20) == \
        "You have reached today's claim limit (20)"
    assert render("claim.quota_exceeded", quota=20) == "今天的占有数量已达上限（20个）"


def test_the_migrations_have_one_head():
    """Branches from one parent (two issues' columns) are merged, so `upgrade` has one target."""
    from alembic.script import ScriptDirectory

    from models.migrate import alembic_config
    assert len(ScriptDirectory.from_config(alembic_config(None)).get_heads()) == 1
