"""The stored records: users with their configuration, API tokens, cycles and sessions."""
import hashlib
import secrets
import unicodedata
import uuid
from datetime import UTC, datetime
from functools import cache

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import (JSON, CheckConstraint, DateTime, ForeignKey, Index, String, Text, TypeDecorator, func,
                        literal_column, select)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from werkzeug.security import check_password_hash, generate_password_hash

from . import rules
from .extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every database, SQLite included."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    work_seconds: Mapped[int] = mapped_column(default=1500)
    short_break_seconds: Mapped[int] = mapped_column(default=300)
    long_break_seconds: Mapped[int] = mapped_column(default=900)
    long_break_interval: Mapped[int] = mapped_column(default=4)
    auto_start_breaks: Mapped[bool] = mapped_column(default=True)
    auto_start_work: Mapped[bool] = mapped_column(default=False)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # -- reports: the daily goal, and the calendar feed's secret (only its SHA-256) --
    daily_goal: Mapped[int] = mapped_column(default=8, server_default="8")
    calendar_secret_hash: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    calendar_secret_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # The e-mail by the one rule that says when two addresses are the same
    # (`email_key`): what sign-up checks and log-in looks up, on every database.
    email_key: Mapped[str] = mapped_column(String(254))
    tokens: Mapped[list["ApiToken"]] = relationship(back_populates="user", cascade="all, delete-orphan")

    __table_args__ = (Index("uq_users_email_key", email_key, unique=True),)

    @validates("email")
    def _keep_email_key(self, _field: str, email: str) -> str:
        self.email_key = email_key(email)
        return email

    signed_in_as = None  # in a browser's request: its BrowserSession (not stored on the user)

    def get_id(self) -> str | None:
        """What Flask-Login keeps in the session and remember cookies: the
        browser's log-in, so that ending it ends them (auth.load_user)."""
        return self.signed_in_as.id if self.signed_in_as is not None else None

    @property
    def configuration(self) -> "User":
        """The timer settings, which are stored on the user's own row."""
        return self

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, current_app.config["PASSWORD_HASH_METHOD"])

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @staticmethod
    def by_email(email: str):
        return db.session.scalar(select(User).where(User.email_key == email_key(email)))

    @staticmethod
    def authenticate(email: str, password: str):
        """The user with this e-mail and password, or None. An unknown e-mail
        costs the same password check as a wrong password, so the time taken
        does not tell whether an address has an account."""
        user = User.by_email(email)
        if user is None:
            check_password_hash(_unknown_user_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
            return None
        return user if user.check_password(password) else None


def email_key(email: str) -> str:
    """When two e-mail addresses are the same: Unicode's caseless match for
    identifiers (NFKC, case folding, NFKC again), computed here in Python and
    stored, so neither database's own notion of case is ever asked."""
    text = unicodedata.normalize("NFKC", email.strip())
    return unicodedata.normalize("NFKC", text.casefold())


@cache
def _unknown_user_hash(method: str) -> str:
    """A hash made like every stored one, checked against when no user matches."""
    return generate_password_hash(secrets.token_hex(16), method)


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored, so a leaked table grants nothing."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # integrations: personal tokens have a name, may expire, and note their last use (to the minute)
    name: Mapped[str] = mapped_column(String(100), default="")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, user: User, name: str = "", expires_at: datetime | None = None) -> tuple["ApiToken", str]:
        """A new token for `user`: the record, and the secret shown once."""
        secret = secrets.token_urlsafe(32)  # 256 bits
        return cls(user=user, token_hash=cls.digest(secret), name=name, expires_at=expires_at), secret


class Cycle(db.Model):
    __tablename__ = "cycles"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=rules.ACTIVE)
    completed_work_sessions: Mapped[int] = mapped_column(default=0)
    long_break_interval: Mapped[int]
    next_session_type: Mapped[str] = mapped_column(String(16), default=rules.WORK)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sessions: Mapped[list["Session"]] = relationship(
        back_populates="cycle", order_by="Session.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint(_in("status", rules.CYCLE_STATUSES), name="ck_cycles_status"),
        CheckConstraint(_in("next_session_type", rules.SESSION_TYPES), name="ck_cycles_next_session_type"),
        Index("ix_cycles_user_created", "user_id", "created_at"),
        # At most one active cycle per user, enforced by the database.
        Index(
            "uq_cycles_one_active_per_user",
            "user_id",
            unique=True,
            sqlite_where=db.text("status = 'active'"),
            postgresql_where=db.text("status = 'active'"),
        ),
    )


class Session(db.Model):
    """One timed session (work or break) in a cycle.

    `version` changes on every transition; a completion job carries the version
    it was scheduled for, so a stale job matches nothing.
    """

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    cycle_id: Mapped[str] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    position: Mapped[int]
    duration_seconds: Mapped[int]
    remaining_seconds: Mapped[float]
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)
    # Tasks: the task a focus session counts toward, what was done, what interrupted it.
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"), index=True)
    note: Mapped[str | None] = mapped_column(String(2000))
    interruptions_internal: Mapped[int] = mapped_column(default=0, server_default="0")
    interruptions_external: Mapped[int] = mapped_column(default=0, server_default="0")

    cycle: Mapped[Cycle] = relationship(back_populates="sessions")
    user: Mapped[User] = relationship()
    task: Mapped["Task | None"] = relationship()

    @property
    def interruptions(self) -> dict:
        return {"internal": self.interruptions_internal, "external": self.interruptions_external}

    @classmethod
    def is_open(cls):
        """Running or paused, as SQL with the statuses written in (no parameters to expand at each
        execution, and the partial index of open sessions is seen to apply)."""
        return cls.status.in_([literal_column(f"'{status}'") for status in rules.OPEN_STATUSES])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint(_in("type", rules.SESSION_TYPES), name="ck_sessions_type"),
        CheckConstraint(_in("status", rules.SESSION_STATUSES), name="ck_sessions_status"),
        Index("ix_sessions_user_started", "user_id", "started_at"),
        Index("ix_sessions_status_ends_at", "status", "ends_at"),
        # A user has at most one running or paused session, enforced by the database.
        Index(
            "uq_sessions_one_open_per_user",
            "user_id",
            unique=True,
            sqlite_where=db.text("status IN ('running', 'paused')"),
            postgresql_where=db.text("status IN ('running', 'paused')"),
        ),
    )


class Task(db.Model):
    """Something to do, planned in pomodoros. `completed_pomodoros` and
    `focused_seconds` sum its completed focus sessions; they are kept up to
    date as sessions complete or move between tasks (`actions.count_toward`),
    so a list of hundreds of tasks is read without adding up thousands of
    sessions."""

    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list] = mapped_column(JSON, default=list)
    estimated_pomodoros: Mapped[int] = mapped_column(default=0)
    completed_pomodoros: Mapped[int] = mapped_column(default=0)
    focused_seconds: Mapped[float] = mapped_column(default=0.0)
    done: Mapped[bool] = mapped_column(default=False)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ix_tasks_user_position", "user_id", "done", "position"),
        # At most one active task per user, enforced by the database.
        Index(
            "uq_tasks_one_active_per_user",
            "user_id",
            unique=True,
            sqlite_where=db.text("active"),
            postgresql_where=db.text("active"),
        ),
    )


# -- integrations: webhooks and their deliveries -------------------------------------

def new_delivery_id() -> str:
    return "msg_" + uuid.uuid4().hex


class Webhook(db.Model):
    """An endpoint a user registered: the events it wants (None: all of them),
    signed with `secret` (and `previous_secret` until `previous_secret_until`,
    after a rotation)."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list | None] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(String(500), default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    deliveries: Mapped[list["WebhookDelivery"]] = relationship(
        back_populates="webhook", cascade="all, delete-orphan", passive_deletes=True
    )

    def wants(self, event: str) -> bool:
        return self.enabled and (not self.events or event in self.events)


class WebhookDelivery(db.Model):
    """One event for one endpoint; its id is the `webhook-id` header, the same on
    every attempt. `leased_until` marks an attempt in flight (a sender that dies
    mid-attempt lets the lease run out, and the delivery is tried again)."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_delivery_id)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    webhook: Mapped[Webhook] = relationship(back_populates="deliveries")

    __table_args__ = (
        CheckConstraint(_in("status", ("pending", "delivered", "failed")), name="ck_webhook_deliveries_status"),
        Index("ix_webhook_deliveries_webhook_created", "webhook_id", "created_at"),
        Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
    )


class BrowserSession(db.Model):
    """One log-in from one browser. Its id is what Flask-Login keeps in the
    session cookie and the remember cookie, so deleting the row ends both:
    log out, log out everywhere, a password change."""

    __tablename__ = "browser_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=lambda: secrets.token_urlsafe(32))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()
