"""Webhooks: endpoints a user registered, and the signed, retried deliveries of
their events (Standard Webhooks v1). The rules are in `webhook_rules`.

A delivery is a row written in the same transaction as the change it tells
of (`record_deliveries`, a before-commit hook of every action), so it
cannot be lost, nor sent before the change is stored. After the commit it
is handed to background work (`queue_deliveries`), which hands it on to the
`Sender` of the process that runs it (in production a `background` process,
never a `worker`): a pool of threads bounded per destination (scheme,
host and port), so endpoints that hang hold at most `PER_DESTINATION` of its
threads, however many of them point there, and the others go on. An attempt first takes a lease on its row (a compare-and-set), so two
processes never send the same attempt; a process that dies mid-attempt
lets the lease run out and the sweep sends it again, with the same
`webhook-id`. Sending never happens in a request or on the path that
completes sessions.
"""
import http.client
import json
import logging
import random
import socket
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from flask import current_app
from sqlalchemy import bindparam, delete as delete_rows, func, select, update
from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session as OrmSession

from . import announcements, background
from . import webhook_rules as rules
from .actions import NotFound, own_record
from .extensions import db
from .models import User, Webhook, WebhookDelivery, utcnow
from .rules import Refused
from .schemas import utc_text

log = logging.getLogger(__name__)

TIMEOUT = 15.0  # seconds for a whole attempt: connect, send, answer
MAX_READ = 64 * 1024  # of a response, at most this much is read
KEEP_BODY = 1024  # and this much is kept, for the delivery log
LEASE = timedelta(seconds=30)  # an attempt in flight: TIMEOUT and a margin; a dead sender's lease runs out this soon
ROTATION_OVERLAP = timedelta(hours=24)
LOG_LENGTH = 100  # deliveries kept per endpoint (pending ones are always kept)
DISPATCH = "pomodoro.webhooks.dispatch"


def allow_private() -> bool:
    return bool(current_app.config.get("WEBHOOK_ALLOW_PRIVATE"))


# -- addresses ----------------------------------------------------------------

def resolve(url: str) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, path, address): the URL checked against the address
    rules, with the one address it is to be called at. Raises AddressRefused."""
    scheme, host, port, path = rules.parse_url(url, allow_private())
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise rules.AddressRefused(f"{host} does not resolve to any address.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in found))
    return scheme, host, port, path, rules.check_addresses(host, addresses, allow_private())


# -- the user's actions ----------------------------------------------------------

def get(user: User, webhook_id: str) -> Webhook:
    return own_record(user, Webhook, webhook_id, "No such webhook.")


def get_delivery(user: User, webhook_id: str, delivery_id: str) -> WebhookDelivery:
    webhook = get(user, webhook_id)
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.webhook_id != webhook.id:
        raise NotFound("No such delivery.")
    return delivery


def owned(user: User) -> list[Webhook]:
    return db.session.scalars(
        select(Webhook).where(Webhook.user_id == user.id).order_by(Webhook.created_at, Webhook.id)
    ).all()


def create(user: User, url: str, events: list | None = None, description: str = "") -> Webhook:
    """A new endpoint (its address checked by the caller's schema); its secret is on it."""
    webhook = Webhook(user_id=user.id, url=url, events=events or None, description=description,
                      secret=rules.new_secret())
    db.session.add(webhook)
    db.session.commit()
    return webhook


def update_webhook(webhook: Webhook, changes: dict) -> Webhook:
    """Change url, events, description or enabled. Enabling clears why it was disabled."""
    for field, value in changes.items():
        setattr(webhook, field, (value or None) if field == "events" else value)  # no events listed: all of them
    if changes.get("enabled"):
        webhook.disabled_reason = None
        webhook.failing_since = None
    db.session.commit()
    return webhook


def delete(webhook: Webhook) -> None:
    db.session.delete(webhook)
    db.session.commit()


def rotate_secret(webhook: Webhook, now: datetime | None = None) -> Webhook:
    """A new secret; the old one still signs (beside it) for 24 hours."""
    now = now or utcnow()
    webhook.previous_secret, webhook.previous_secret_until = webhook.secret, now + ROTATION_OVERLAP
    webhook.secret = rules.new_secret()
    db.session.commit()
    return webhook


def send_test(webhook: Webhook, now: datetime | None = None) -> WebhookDelivery:
    """Queue a `webhook.test` delivery to this one endpoint."""
    if not webhook.enabled:
        raise Refused("Enable the webhook before sending it a test.")
    now = now or utcnow()
    data = {"webhook_id": webhook.id, "message": "A test from Pomodoro: your endpoint is reached."}
    delivery = _new_delivery(webhook, announcements.WEBHOOK_TEST, data, now)
    db.session.commit()
    _dispatch_later([delivery])
    return delivery


def retry(delivery: WebhookDelivery, now: datetime | None = None) -> WebhookDelivery:
    """Try a delivery again now (one more attempt, even after it failed for good)."""
    if not delivery.webhook.enabled:
        raise Refused("Enable the webhook before retrying its deliveries.")
    delivery.status = rules.PENDING
    delivery.next_attempt_at = now or utcnow()
    db.session.commit()
    _dispatch_later([delivery])
    return delivery


def deliveries(webhook: Webhook, page: int = 1, per_page: int = 20) -> tuple[list, int]:
    """A page of the endpoint's delivery log, newest first, and how many there are."""
    owned_rows = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id)
    total = db.session.scalar(select(func.count()).select_from(owned_rows.subquery()))
    items = db.session.scalars(
        owned_rows.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    return items, total


# -- recording, with the change that caused it ---------------------------------------

def _new_delivery(webhook: Webhook, event: str, data: dict, at: datetime) -> WebhookDelivery:
    body = json.dumps({"type": event, "timestamp": utc_text(at), "data": data},
                      separators=(",", ":"))
    delivery = WebhookDelivery(webhook=webhook, event=event, payload=body, next_attempt_at=at, created_at=at)
    db.session.add(delivery)
    return delivery


# In the database session's `info` until the transaction ends: the deliveries
# to hand over after the commit, and the enabled endpoints of each user whose
# change is expected.
PENDING_DISPATCH = "pomodoro.webhook_deliveries"
ENDPOINTS = "pomodoro.webhook_endpoints"


@announcements.when_expected
def read_endpoints(user_id: str) -> None:
    """Read the user's enabled endpoints as soon as a change of theirs is
    expected: for a completion, ahead of its moment, not between `ends_at`
    and the notice."""
    db.session.info.setdefault(ENDPOINTS, {})[user_id] = db.session.scalars(
        select(Webhook).where(Webhook.user_id == user_id, Webhook.enabled.is_(True))
    ).all()


@announcements.before_commit
def record_deliveries(announced: list) -> None:
    """For each announced event, a delivery to each of its user's enabled
    endpoints that wants it, stored by the commit about to happen."""
    endpoints = db.session.info.get(ENDPOINTS, {})
    made = [_new_delivery(webhook, one.event, one.data, one.at)
            for one in announced for webhook in endpoints.get(one.user_id, ())
            if webhook.wants(one.event)]
    if made:
        db.session.info.setdefault(PENDING_DISPATCH, []).extend(made)


@announcements.after_commit
def queue_deliveries(_announced: list) -> None:
    db.session.info.pop(ENDPOINTS, None)
    _dispatch_later(db.session.info.pop(PENDING_DISPATCH, []))


@orm_event.listens_for(OrmSession, "after_soft_rollback")
def _forget(session, _previous_transaction) -> None:
    """Deliveries of a transaction that rolled back were never stored: nothing to send."""
    session.info.pop(PENDING_DISPATCH, None)
    session.info.pop(ENDPOINTS, None)


def _dispatch_later(made: list) -> None:
    """Hand new deliveries to background work, which hands them to the sender
    of a process that does not keep the clock (a `background` process, or the
    embedded one's own threads)."""
    background.run_each(DISPATCH, [(delivery.id, destination(delivery.webhook.url)) for delivery in made])


def destination(url: str) -> str:
    """Where a URL sends to, for the sender's bound: scheme, host and port."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{(parts.hostname or '').lower()}:{parts.port or ''}"
    except ValueError:
        return url


def dispatch(delivery_id: str, lane: str) -> None:
    """The background job: hand the delivery to this process's sender."""
    sender(current_app).submit(lane, delivery_id)


@background.every(5)
def sweep(now: datetime | None = None) -> None:
    """Send the due deliveries nothing is sending: queued by a process that died,
    or by a Redis that restarted empty."""
    now = now or utcnow()
    due = db.session.execute(
        select(WebhookDelivery.id, Webhook.url).join(WebhookDelivery.webhook)
        .where(WebhookDelivery.status == rules.PENDING, WebhookDelivery.next_attempt_at <= now - timedelta(seconds=2),
               WebhookDelivery.leased_until.is_(None) | (WebhookDelivery.leased_until < now))
        .order_by(WebhookDelivery.next_attempt_at).limit(1000)
    ).all()
    db.session.rollback()
    for delivery_id, url in due:
        sender(current_app).submit(destination(url), delivery_id)


@background.every(60)
def prune(keep: int = LOG_LENGTH) -> None:
    """Keep the newest `keep` deliveries of each endpoint's log (and any still pending)."""
    crowded = db.session.scalars(
        select(WebhookDelivery.webhook_id).group_by(WebhookDelivery.webhook_id).having(func.count() > keep)
    ).all()
    for webhook_id in crowded:
        oldest_kept = db.session.scalar(
            select(WebhookDelivery.created_at).where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.created_at.desc()).offset(keep - 1).limit(1)
        )
        db.session.execute(
            delete_rows(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id,
                                          WebhookDelivery.created_at < oldest_kept,
                                          WebhookDelivery.status != rules.PENDING)
        )
    db.session.commit()


# -- sending ----------------------------------------------------------------------

class Sender:
    """This process's delivery threads. At most PER_DESTINATION attempts to one
    destination at once; the rest of its deliveries wait in its backlog, not on
    a thread, so slow endpoints cannot starve the others. (Attempts hold a
    database connection only to claim and to record, never while they wait.)"""

    THREADS = 32
    PER_DESTINATION = 8

    def __init__(self, app):
        self.app = app
        self._lock = threading.Lock()
        self._busy: dict[str, int] = {}
        self._backlog: dict[str, OrderedDict] = {}
        self._queued: set[str] = set()
        self._pool = ThreadPoolExecutor(max_workers=self.THREADS, thread_name_prefix="webhooks")

    def submit(self, lane: str, delivery_id: str) -> None:
        with self._lock:
            if delivery_id in self._queued:
                return
            self._queued.add(delivery_id)
            if self._busy.get(lane, 0) >= self.PER_DESTINATION:
                self._backlog.setdefault(lane, OrderedDict())[delivery_id] = None
                return
            self._busy[lane] = self._busy.get(lane, 0) + 1
        self._pool.submit(self._run, lane, delivery_id)

    def _run(self, lane: str, delivery_id: str) -> None:
        while delivery_id is not None:
            with self.app.app_context():
                try:
                    attempt(delivery_id)
                except Exception:
                    log.exception("webhook delivery %s failed to run; the sweep tries again", delivery_id)
                    db.session.rollback()
                finally:
                    db.session.remove()
            delivery_id = self._next(lane, delivery_id)

    def _next(self, lane: str, done: str) -> str | None:
        """The destination's next waiting delivery, or None (freeing its slot)."""
        with self._lock:
            self._queued.discard(done)
            backlog = self._backlog.get(lane)
            if backlog:
                following, _ = backlog.popitem(last=False)
                return following
            self._backlog.pop(lane, None)
            self._busy[lane] -= 1
            if not self._busy[lane]:
                del self._busy[lane]
            return None

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


_sender_lock = threading.Lock()


def sender(app) -> Sender:
    """This process's sender (made on first use)."""
    app = app._get_current_object() if hasattr(app, "_get_current_object") else app
    with _sender_lock:
        if "pomodoro.webhooks.sender" not in app.extensions:
            app.extensions["pomodoro.webhooks.sender"] = Sender(app)
        return app.extensions["pomodoro.webhooks.sender"]


# An attempt's reads and writes, as statements built once (the ORM's unit of
# work cost several times the attempt's own work): the sender reads and
# writes columns, not records, so nothing is loaded or flushed.
_DELIVERIES, _ENDPOINTS = WebhookDelivery.__table__, Webhook.__table__
_CLAIM = (  # the lease on a due delivery, if no other attempt holds it, and what the attempt needs
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id == bindparam("delivery_id"), _DELIVERIES.c.status == rules.PENDING,
           _DELIVERIES.c.next_attempt_at <= bindparam("due_by"),
           _DELIVERIES.c.leased_until.is_(None) | (_DELIVERIES.c.leased_until < bindparam("now")))
    .values(leased_until=bindparam("lease"))
    .returning(_DELIVERIES.c.webhook_id, _DELIVERIES.c.payload, _DELIVERIES.c.attempts)
)
_ENDPOINT = select(_ENDPOINTS.c.url, _ENDPOINTS.c.enabled, _ENDPOINTS.c.secret, _ENDPOINTS.c.previous_secret,
                   _ENDPOINTS.c.previous_secret_until, _ENDPOINTS.c.failing_since
                   ).where(_ENDPOINTS.c.id == bindparam("webhook_id"))
_RECORD = update(_DELIVERIES).where(_DELIVERIES.c.id == bindparam("delivery_id"))
_ANSWERED = ("attempts", "last_attempt_at", "response_code", "error", "duration_ms", "response_body", "status",
             "next_attempt_at")
_RECORD_ATTEMPT = _RECORD.values(leased_until=None, **{name: bindparam(f"new_{name}") for name in _ANSWERED})
_MARK_ENDPOINT = update(_ENDPOINTS).where(_ENDPOINTS.c.id == bindparam("webhook_id"))


class Answer:
    """What one attempt got: a status code (None if no answer), the start of
    the body, how long it took, what went wrong."""

    def __init__(self, code=None, body="", error=None, retry_after=None, duration_ms=0):
        self.code, self.body, self.error, self.retry_after, self.duration_ms = code, body, error, retry_after, duration_ms


def attempt(delivery_id: str) -> None:
    """One attempt at a delivery, if it is due and no one else is on it: the
    lease taken and the endpoint read and committed, the request made, what it
    got stored (the lease keeps other attempts off the row meanwhile)."""
    now = utcnow()
    claimed = db.session.execute(_CLAIM, {"delivery_id": delivery_id, "due_by": now + timedelta(seconds=1),
                                          "now": now, "lease": now + LEASE}).one_or_none()
    endpoint = claimed and db.session.execute(_ENDPOINT, {"webhook_id": claimed.webhook_id}).one_or_none()
    if endpoint is None:  # not due, held by another attempt, or gone
        db.session.commit()
        return
    if not endpoint.enabled:
        db.session.execute(_RECORD.values(status=rules.FAILED, error="The endpoint is disabled.", leased_until=None),
                           {"delivery_id": delivery_id})
        db.session.commit()
        return
    signing = rules.signing_secrets(endpoint.secret, endpoint.previous_secret, endpoint.previous_secret_until, now)
    db.session.commit()  # no transaction stays open while the endpoint takes its time
    answer = post(endpoint.url, delivery_id, claimed.payload, signing)
    _record(delivery_id, claimed, endpoint, answer)


def post(url: str, message_id: str, body: str, signing: list[str]) -> Answer:
    """POST a signed delivery to `url`, at the address checked just now, following no redirect."""
    started = time.monotonic()
    timestamp = int(time.time())
    try:
        scheme, host, port, path, address = resolve(url)
    except rules.AddressRefused as refused:
        return Answer(error=str(refused))
    default_port = 443 if scheme == "https" else 80
    headers = {
        "Host": host if port == default_port else f"{host}:{port}",
        "Content-Type": "application/json",
        "User-Agent": "Pomodoro-Webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": rules.sign(signing, message_id, timestamp, body),
    }
    if scheme == "https":  # connect to the checked address; the certificate must name the host
        connection = HTTPSConnection(address, port, timeout=TIMEOUT, server_hostname=host, assert_hostname=host,
                                     cert_reqs="CERT_REQUIRED")
    else:
        connection = HTTPConnection(address, port, timeout=TIMEOUT)
    # The socket's timeout bounds each wait for a byte; this bounds the whole
    # attempt, against an endpoint that trickles its answer a byte at a time.
    timed_out, opened = threading.Event(), []
    cut_off = threading.Timer(TIMEOUT, _cut_off, (connection, opened, timed_out))
    cut_off.daemon = True
    cut_off.start()
    try:
        connection.request("POST", path, body=body.encode(), headers=headers, preload_content=False)
        opened.append(connection.sock)  # the response keeps reading it after a `Connection: close`
        response = connection.getresponse()
        content = _read_some(response)
        if timed_out.is_set():  # cut off mid-body: what came is not the whole answer
            raise TimeoutError("the answer took too long")
        return Answer(response.status, content.decode("utf-8", "replace")[:KEEP_BODY],
                      None if 200 <= response.status < 300 else _status_error(response.status),
                      response.headers.get("Retry-After"), _elapsed(started))
    except (*TimeoutError_, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as error:
        if timed_out.is_set() or isinstance(error, TimeoutError_):
            return Answer(error=f"No answer within {TIMEOUT:g} s ({type(error).__name__}).",
                          duration_ms=_elapsed(started))
        return Answer(error=f"Could not deliver: {error}"[:500], duration_ms=_elapsed(started))
    finally:
        cut_off.cancel()
        connection.close()


def _cut_off(connection, opened: list, timed_out: threading.Event) -> None:
    """The attempt's time is up: end its connection, which ends any wait on it."""
    timed_out.set()
    sock = connection.sock or (opened[0] if opened else None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


TimeoutError_ = (urllib3.exceptions.TimeoutError, TimeoutError, socket.timeout)


def _read_some(response) -> bytes:
    """Up to MAX_READ bytes of the body (the attempt's cut-off bounds how long it takes)."""
    content = b""
    while len(content) < MAX_READ:
        chunk = response.read(min(8192, MAX_READ - len(content)))
        if not chunk:
            break
        content += chunk
    return content


def _status_error(code: int) -> str:
    if 300 <= code < 400:
        return f"Answered {code}, a redirect: redirects are not followed."
    return f"Answered {code}."


def _elapsed(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _record(delivery_id: str, claimed, endpoint, answer: Answer) -> None:
    """Store what the attempt got, and what follows: done, another try (queued),
    or failed; and on the endpoint, since when it fails, or why it was disabled."""
    now = utcnow()
    attempts = claimed.attempts + 1
    outcome = rules.after_attempt(attempts, answer.code, answer.retry_after, endpoint.failing_since,
                                  now, random.uniform(-1, 1))
    stored = db.session.execute(_RECORD_ATTEMPT, {
        "delivery_id": delivery_id, "new_attempts": attempts, "new_last_attempt_at": now,
        "new_response_code": answer.code, "new_error": answer.error, "new_duration_ms": answer.duration_ms,
        "new_response_body": answer.body or None, "new_status": outcome.status,
        "new_next_attempt_at": outcome.next_attempt_at,
    })
    changes = {}
    if outcome.status == rules.DELIVERED:
        if endpoint.failing_since is not None:
            changes["failing_since"] = None
    elif endpoint.failing_since is None:
        changes["failing_since"] = now
    if outcome.disable_reason:
        changes.update(enabled=False, disabled_reason=outcome.disable_reason)
    if changes:
        db.session.execute(_MARK_ENDPOINT.values(**changes), {"webhook_id": claimed.webhook_id})
    db.session.commit()
    if stored.rowcount and outcome.status == rules.PENDING:  # (none stored: the endpoint was deleted meanwhile)
        background.run(DISPATCH, delivery_id, destination(endpoint.url), at=outcome.next_attempt_at)
