"""Live events: publish a user's event; deliver it to that user's open sockets.

Two adapters behind one face, `publish(user_id, event, data)`:
- `LocalEvents` (embedded mode): hands the event straight to this process's hub;
- `RedisEvents` (production): publishes on one Redis channel; every web process
  runs one subscriber thread that hands what it hears to its own hub.

The hub keeps, per user, the queues of this process's open sockets. Delivery
never blocks: a socket whose queue is full is dropped (its client reconnects and
resynchronises from `hello`), so a stuck client cannot hold up anyone else.
"""
import json
import logging
import queue
import threading
import time

import redis

from .models import utcnow
from .schemas import Timestamp

log = logging.getLogger(__name__)
CHANNEL = "pomodoro:events"
RESYNC = object()  # asks a socket to send a fresh `hello`
CLOSE = object()  # asks a socket to close: it fell too far behind


def frame(event: str, data, at=None) -> str:
    return json.dumps({"event": event, "data": data, "at": Timestamp()._serialize(at or utcnow(), None, None)})


class Listener:
    """One open socket's inbox."""

    def __init__(self, user_id: str, size: int = 256):
        self.user_id = user_id
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

    def count(self) -> int:
        with self._lock:
            return sum(len(listeners) for listeners in self._listeners.values())

    def deliver(self, user_id: str, item) -> None:
        with self._lock:
            listeners = list(self._listeners.get(user_id, ()))
        for listener in listeners:
            self._put(listener, item)

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

    def publish(self, user_id: str, event: str, data) -> None:
        self.hub.deliver(user_id, frame(event, data))

    def subscribe(self, listener: Listener) -> None:
        self.hub.add(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self.hub.remove(listener)


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
        self.subscribed = threading.Event()

    def publish(self, user_id: str, event: str, data) -> None:
        try:
            self.redis.publish(CHANNEL, json.dumps([user_id, frame(event, data)]))
        except redis.RedisError as error:  # sockets resynchronise from `hello` when Redis is back
            log.warning("could not publish %s: %s", event, error)

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
                self.subscribed.set()
                if not first:
                    self.hub.deliver_all(RESYNC)
                first = False
                for message in pubsub.listen():
                    user_id, text = json.loads(message["data"])
                    self.hub.deliver(user_id, text)
            except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
                self.subscribed.clear()
                log.warning("events relay lost Redis (%s); reconnecting", error)
                time.sleep(0.5)
