"""Personal API tokens: made with a name and an optional expiry, listed,
revoked; their last use noted at most once a minute."""
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from .actions import NotFound
from .extensions import db
from .models import ApiToken, User, utcnow

# `last_used_at` is written at most this often per token: a token used by a
# script every second must not turn each of its reads into a write.
TOUCH_EVERY = timedelta(minutes=1)


def sign_in_name(now: datetime) -> str:
    """The name of the token `POST /auth/token` hands out."""
    return f"Signed in {now:%Y-%m-%d %H:%M} UTC"


def create(user: User, name: str | None = None, expires_in_days: int | None = None,
           now: datetime | None = None) -> tuple[ApiToken, str]:
    """A new token: the stored record, and the secret, shown this once. Without
    a name it is the token of a sign-in (`POST /auth/token`), named for its date."""
    now = now or utcnow()
    name = name if name is not None else sign_in_name(now)
    expires_at = now + timedelta(days=expires_in_days) if expires_in_days else None
    record, secret = ApiToken.issue(user, name=name, expires_at=expires_at)
    record.created_at = now
    db.session.add(record)
    db.session.commit()
    return record, secret


def owned(user: User) -> list[ApiToken]:
    """The user's tokens that still work, newest first (expired ones are dropped here)."""
    now = utcnow()
    tokens = db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc(), ApiToken.id)
    ).all()
    return [token for token in tokens if token.expires_at is None or token.expires_at > now]


def get(user: User, token_id: str) -> ApiToken:
    record = db.session.get(ApiToken, token_id)
    if record is None or record.user_id != user.id or (record.expires_at and record.expires_at <= utcnow()):
        raise NotFound("No such token.")
    return record


def touch(record: ApiToken, now: datetime | None = None) -> None:
    """Note that `record` was just used, unless that was noted less than a
    minute ago. A guarded UPDATE: of many requests at once, one writes."""
    now = now or utcnow()
    if record.last_used_at is not None and now - record.last_used_at < TOUCH_EVERY:
        return
    stale = ApiToken.last_used_at.is_(None) | (ApiToken.last_used_at <= now - TOUCH_EVERY)
    db.session.execute(
        update(ApiToken).where(ApiToken.id == record.id, stale).values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    set_committed_value(record, "last_used_at", now)  # known stored: nothing for a later commit to write
