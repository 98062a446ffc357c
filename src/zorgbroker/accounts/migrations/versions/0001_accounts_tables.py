"""The accounts tables, and triggers that keep the security log append-only.

Revision ID: 0001
Revises:
Create Date: 2026-12-07 16:33:54.050713
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("is_registry", sa.Boolean(), nullable=False),
        sa.Column("min_strength", sa.Integer(), nullable=False),
        sa.Column("min_length", sa.Integer(), nullable=False),
        sa.Column("change_after_days", sa.Integer(), nullable=False),
        sa.Column("warn_days", sa.Integer(), nullable=False),
        sa.Column("disable_after_days", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lock_seconds", sa.Integer(), nullable=False),
        sa.Column("history", sa.Integer(), nullable=False),
        sa.Column("two_step_required", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_organisations")),
        sa.UniqueConstraint("name", name=op.f("uq_account_organisations_name")),
    )
    op.create_table(
        "account_security_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_security_events")),
    )
    with op.batch_alter_table("account_security_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_security_events_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_account_security_events_organisation_id"),
            ["organisation_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_account_security_events_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "account_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=200), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["account_organisations.id"],
            name=op.f("fk_account_users_organisation_id_account_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_users")),
        sa.UniqueConstraint("email", name=op.f("uq_account_users_email")),
    )
    with op.batch_alter_table("account_users", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_users_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "account_activation_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_users.id"],
            name=op.f("fk_account_activation_codes_user_id_account_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_activation_codes")),
    )
    with op.batch_alter_table("account_activation_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_activation_codes_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "account_browsers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("second_factor_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_users.id"],
            name=op.f("fk_account_browsers_user_id_account_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_browsers")),
        sa.UniqueConstraint("token_hash", "user_id", name=op.f("uq_account_browsers_token_hash")),
    )
    with op.batch_alter_table("account_browsers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_browsers_token_hash"), ["token_hash"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_account_browsers_user_id"), ["user_id"], unique=False)

    op.create_table(
        "account_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_users.id"],
            name=op.f("fk_account_invitations_user_id_account_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_invitations_token_hash")),
    )
    with op.batch_alter_table("account_invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_invitations_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "account_login_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_users.id"],
            name=op.f("fk_account_login_tokens_user_id_account_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_login_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_login_tokens_token_hash")),
    )
    with op.batch_alter_table("account_login_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_login_tokens_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_account_login_tokens_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "account_passkeys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_users.id"],
            name=op.f("fk_account_passkeys_user_id_account_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_passkeys")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_account_passkeys_credential_id")),
    )
    with op.batch_alter_table("account_passkeys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_passkeys_user_id"), ["user_id"], unique=False)

    op.create_table(
        "account_password_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_users.id"],
            name=op.f("fk_account_password_history_user_id_account_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_password_history")),
    )
    with op.batch_alter_table("account_password_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_password_history_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "account_recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_users.id"],
            name=op.f("fk_account_recovery_codes_user_id_account_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_recovery_codes")),
    )
    with op.batch_alter_table("account_recovery_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_recovery_codes_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "account_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("id_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("password_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reauthenticated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("csrf_secret", sa.String(length=64), nullable=False),
        sa.Column("challenge", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=40), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_users.id"],
            name=op.f("fk_account_sessions_user_id_account_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_sessions")),
        sa.UniqueConstraint("id_hash", name=op.f("uq_account_sessions_id_hash")),
    )
    with op.batch_alter_table("account_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "account_totp_factors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_users.id"],
            name=op.f("fk_account_totp_factors_user_id_account_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_totp_factors")),
    )
    with op.batch_alter_table("account_totp_factors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_totp_factors_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "account_user_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_users.id"],
            name=op.f("fk_account_user_roles_user_id_account_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_user_roles")),
        sa.UniqueConstraint("user_id", "role", name=op.f("uq_account_user_roles_user_id")),
    )
    with op.batch_alter_table("account_user_roles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_user_roles_user_id"), ["user_id"], unique=False
        )

    _append_only("account_security_events")


def _append_only(table: str) -> None:
    """UPDATE and DELETE on the log fail on both databases (NEN 7513: the log is evidence)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION account_refuse_change() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'het beveiligingslog wordt alleen aangevuld'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION account_refuse_change()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
            "BEGIN SELECT RAISE(ABORT, 'het beveiligingslog wordt alleen aangevuld'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER account_security_events_append_only ON account_security_events")
        op.execute("DROP FUNCTION account_refuse_change()")
    with op.batch_alter_table("account_user_roles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_user_roles_user_id"))

    op.drop_table("account_user_roles")
    with op.batch_alter_table("account_totp_factors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_totp_factors_user_id"))

    op.drop_table("account_totp_factors")
    with op.batch_alter_table("account_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_sessions_user_id"))

    op.drop_table("account_sessions")
    with op.batch_alter_table("account_recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_recovery_codes_user_id"))

    op.drop_table("account_recovery_codes")
    with op.batch_alter_table("account_password_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_password_history_user_id"))

    op.drop_table("account_password_history")
    with op.batch_alter_table("account_passkeys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_passkeys_user_id"))

    op.drop_table("account_passkeys")
    with op.batch_alter_table("account_login_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_login_tokens_user_id"))
        batch_op.drop_index(batch_op.f("ix_account_login_tokens_session_id"))

    op.drop_table("account_login_tokens")
    with op.batch_alter_table("account_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_invitations_user_id"))

    op.drop_table("account_invitations")
    with op.batch_alter_table("account_browsers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_browsers_user_id"))
        batch_op.drop_index(batch_op.f("ix_account_browsers_token_hash"))

    op.drop_table("account_browsers")
    with op.batch_alter_table("account_activation_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_activation_codes_user_id"))

    op.drop_table("account_activation_codes")
    with op.batch_alter_table("account_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_users_organisation_id"))

    op.drop_table("account_users")
    with op.batch_alter_table("account_security_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_security_events_user_id"))
        batch_op.drop_index(batch_op.f("ix_account_security_events_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_account_security_events_at"))

    op.drop_table("account_security_events")
    op.drop_table("account_organisations")
