"""Live events: publish a user's events; deliver them to that user's open sockets.

Two adapters behind one face, `expect(user_id)` before a commit, then
`publish(user_id, announcements, pending)` after it (or `withdraw(pending)`
when there is no commit), `subscribe`/`unsubscribe` for sockets,
`resynchronise_unannounced` for the reconciler, and `disconnect(user_id,
credential)` when a token or a browser's log-in is revoked:
- `LocalEvents` (embedded mode): hands the events straight to this process's hub;
- `RedisEvents` (production): publishes on one Redis channel; every web process
  runs one subscriber thread that hands what it hears to its own hub.

A commit and the publishing after it cannot be one step: a process can die
between them, with the change stored and no one told. So `expect` leaves a
note in Redis before the commit and `publish` clears it; a note still there
after a grace period is a process that died, and the reconciler has that
user's sockets send a fresh `hello` instead (`resynchronise_unannounced`).

The hub keeps, per user, the queues of this process's open sockets. Delivery
never blocks: a socket whose queue is full is dropped (its client reconnects and
resynchronises from `hello`), so a stuck client cannot hold up anyone else.
"""
import json
import logging
import queue
import threading
import time
import uuid

import redis

from .models import utcnow
from .schemas import utc_text

log = logging.getLogger(__name__)
CHANNEL = "pomodoro:events"
RESYNC = object()  # asks a socket to send a fresh `hello`
CLOSE = object()  # asks a socket to close: it fell too far behind
SIGNED_OUT = object()  # asks a socket to close: the credential it opened with was revoked
UNANNOUNCED = "pomodoro:unannounced"  # sorted set: a note per change being committed, scored by its deadline


def frame(event: str, data, at=None) -> str:
    return json.dumps({"event": event, "data": data, "at": utc_text(at or utcnow())})


class Listener:
    """One open socket's inbox."""

    def __init__(self, user_id: str, size: int = 256, credential: str | None = None):
        self.user_id = user_id
        self.credential = credential  # what it opened with (a token, a browser's log-in): see `disconnect`
        self.inbox = queue.Queue(maxsize=size)


class Hub:
    def __init__(self):
        self._lock = threading.Lock()
        self._listeners: dict[str, set[Listener]] = {}

    def add(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.setdefault(listener.user_id, set()).add(listener)

    def remove(self, listener: Listener) -> None:
        with self._lock:
            users = self._listeners.get(listener.user_id)
            if users is not None:
                users.discard(listener)
                if not users:
                    del self._listeners[listener.user_id]

    def deliver(self, user_id: str, item) -> None:
        with self._lock:
            listeners = list(self._listeners.get(user_id, ()))
        for listener in listeners:
            self._put(listener, item)

    def count_for(self, user_id: str) -> int:
        with self._lock:
            return len(self._listeners.get(user_id, ()))

    def sign_out(self, user_id: str, credential: str) -> None:
        """Close this process's sockets of `user_id` that opened with `credential`."""
        with self._lock:
            listeners = [one for one in self._listeners.get(user_id, ()) if one.credential == credential]
        for listener in listeners:
            self._put(listener, SIGNED_OUT)

    def deliver_all(self, item) -> None:
        with self._lock:
            listeners = [one for group in self._listeners.values() for one in group]
        for listener in listeners:
            self._put(listener, item)

    def _put(self, listener: Listener, item) -> None:
        try:
            listener.inbox.put_nowait(item)
        except queue.Full:
            self.remove(listener)
            try:
                listener.inbox.get_nowait()
            except queue.Empty:
                pass
            listener.inbox.put_nowait(CLOSE)


class LocalEvents:
    """Embedded mode: events stay in this one process."""

    def __init__(self):
        self.hub = Hub()

    def expect(self, user_id: str) -> None:
        """Nothing to note: if this one process dies, its sockets go with it and
        reconnect to a fresh `hello`."""
        return None

    def withdraw(self, pending) -> None:
        """The commit did not happen."""

    def publish(self, user_id: str, announcements: list, pending=None) -> None:
        """Hand each (event, data) of `announcements` to the user's sockets."""
        for event, data in announcements:
            self.hub.deliver(user_id, frame(event, data))

    def subscribe(self, listener: Listener) -> None:
        self.hub.add(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self.hub.remove(listener)

    def disconnect(self, user_id: str, credential: str) -> None:
        """Close every socket of the user opened with `credential`, now revoked."""
        self.hub.sign_out(user_id, credential)

    def resynchronise_unannounced(self, now: float | None = None) -> int:
        """Nothing to catch up on: a change and its events live and die together
        in this one process."""
        return 0


class RedisEvents(LocalEvents):
    """Production: events go through Redis pub/sub to every web process.

    One subscriber thread per process, started with the first socket; when
    Redis goes away it reconnects and asks every socket to resynchronise,
    since events published meanwhile are gone.
    """

    def __init__(self, redis_url: str):
        super().__init__()
        self.redis = redis.Redis.from_url(redis_url, health_check_interval=10)
        self._relay = None
        self._relay_lock = threading.Lock()

    # How long a change may take from its commit to the publishing of its events
    # before the process that made it is taken for dead.
    GRACE_SECONDS = 2.0

    def expect(self, user_id: str) -> str | None:
        """Note, before a commit, that events of this user are coming; returns the note."""
        pending = f"{user_id}:{uuid.uuid4().hex}"
        try:
            self.redis.zadd(UNANNOUNCED, {pending: time.time() + self.GRACE_SECONDS})
        except redis.RedisError:
            return None  # once Redis is back, every relay has its sockets resynchronise anyway
        return pending

    def withdraw(self, pending: str | None) -> None:
        if pending is not None:
            try:
                self.redis.zrem(UNANNOUNCED, pending)
            except redis.RedisError:
                pass  # the note only costs the user's sockets a spare `hello`

    def publish(self, user_id: str, announcements: list, pending: str | None = None) -> None:
        """Publish the events and clear the note, in one round trip."""
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for event, data in announcements:
                    pipe.publish(CHANNEL, json.dumps([user_id, frame(event, data)]))
                if pending is not None:
                    pipe.zrem(UNANNOUNCED, pending)
                pipe.execute()
        except redis.RedisError as error:  # sockets resynchronise from `hello` when Redis is back
            log.warning("could not publish %s: %s", ", ".join(event for event, _ in announcements), error)

    def resynchronise_unannounced(self, now: float | None = None) -> int:
        """Have the sockets of every user whose change was committed but never
        published (its process died in between) send a fresh `hello`. Each note
        is claimed once, however many workers run this. Returns how many users."""
        now = time.time() if now is None else now
        with self.redis.pipeline() as pipe:  # MULTI: read and remove the overdue notes as one
            pipe.zrangebyscore(UNANNOUNCED, "-inf", now)
            pipe.zremrangebyscore(UNANNOUNCED, "-inf", now)
            overdue, _ = pipe.execute()
        users = {note.decode().partition(":")[0] for note in overdue}
        if users:
            with self.redis.pipeline(transaction=False) as pipe:
                for user_id in users:
                    pipe.publish(CHANNEL, json.dumps([user_id, None]))  # None: send a fresh hello
                pipe.execute()
        return len(users)

    def disconnect(self, user_id: str, credential: str) -> None:
        """Every web process closes its sockets of the user opened with `credential`."""
        try:
            self.redis.publish(CHANNEL, json.dumps([user_id, None, credential]))
        except redis.RedisError as error:  # the socket outlives its credential until it reconnects
            log.warning("could not close the sockets of a revoked credential: %s", error)

    def subscribe(self, listener: Listener) -> None:
        self.start_relay()
        super().subscribe(listener)

    def start_relay(self) -> None:
        with self._relay_lock:
            if self._relay is None:
                self._relay = threading.Thread(target=self._relay_forever, name="events-relay", daemon=True)
                self._relay.start()

    def _relay_forever(self) -> None:
        first = True
        while True:
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                if not first:
                    self.hub.deliver_all(RESYNC)
                first = False
                for message in pubsub.listen():
                    user_id, text, *signed_out = json.loads(message["data"])
                    if signed_out:  # [user_id, None, credential]: see `disconnect`
                        self.hub.sign_out(user_id, signed_out[0])
                    else:
                        self.hub.deliver(user_id, RESYNC if text is None else text)
            except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
                log.warning("events relay lost Redis (%s); reconnecting", error)
                time.sleep(0.5)
