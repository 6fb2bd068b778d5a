"""The rules of webhook deliveries, free of I/O: which addresses may be called,
how a delivery is signed, and what follows an attempt (retry when, fail,
disable the endpoint). Functions of their arguments and `now`."""
import base64
import hashlib
import hmac
import ipaddress
import secrets
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import NamedTuple
from urllib.parse import urlsplit

# The Standard Webhooks schedule: the delay before each attempt (the first at once).
SCHEDULE = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600)
JITTER = 0.1  # each delay is stretched or shrunk by up to a tenth, so retries of a burst spread out
GIVE_UP_AFTER = timedelta(days=5)  # an endpoint failing everything this long is disabled
LONGEST_RETRY_AFTER = timedelta(hours=24)
SECRET_PREFIX = "whsec_"
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


class AddressRefused(ValueError):
    """The URL may not be called; the message says why, for the person who gave it."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secrets_in_use: list[str], message_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` header: `v1,<base64 HMAC-SHA256>` for each secret, space-separated."""
    signed = f"{message_id}.{timestamp}.{body}".encode()
    signatures = []
    for secret in secrets_in_use:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
        signatures.append("v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode())
    return " ".join(signatures)


def signing_secrets(secret: str, previous: str | None, previous_until: datetime | None, now: datetime) -> list[str]:
    """The new secret, and the previous one too for 24 hours after a rotation."""
    if previous and previous_until and now < previous_until:
        return [secret, previous]
    return [secret]


# -- addresses -----------------------------------------------------------------

def parse_url(url: str, allow_private: bool) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of a URL we may call, or AddressRefused."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise AddressRefused("That is not a URL we can read.") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise AddressRefused("Only https:// URLs can receive webhooks.")
    if not parts.hostname:
        raise AddressRefused("The URL needs a host name.")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("Put no user name or password in the URL; verify the signature instead.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def address_problem(address: str) -> str | None:
    """Why an IP address may not be called (None if it may): loopback, private,
    link-local, multicast, reserved and the like, also inside IPv6 forms."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6:
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            ip = embedded
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved or ip.is_unspecified or not ip.is_global:
        return "a reserved address"
    return None


def check_addresses(host: str, addresses: list[str], allow_private: bool) -> str:
    """The address to connect to, once every address `host` resolved to is
    allowed (one bad answer refuses the host: DNS may rotate to it)."""
    if not addresses:
        raise AddressRefused(f"{host} does not resolve to any address.")
    if not allow_private:
        for address in addresses:
            if problem := address_problem(address):
                raise AddressRefused(f"{host} resolves to {address}, {problem}: only public addresses can receive webhooks.")
    return addresses[0]


# -- after an attempt ---------------------------------------------------------------

class Outcome(NamedTuple):
    status: str  # PENDING (tried again at next_attempt_at), DELIVERED or FAILED
    next_attempt_at: datetime | None
    disable_reason: str | None  # set: the endpoint is disabled, for this reason


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A Retry-After header's delay in seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def after_attempt(attempts: int, code: int | None, retry_after: str | None, failing_since: datetime | None,
                  now: datetime, jitter: float) -> Outcome:
    """What follows the `attempts`-th attempt, which got `code` (None: no answer).
    `jitter` is a number in [-1, 1] (random in production)."""
    if code is not None and 200 <= code < 300:
        return Outcome(DELIVERED, None, None)
    if code == 410:
        return Outcome(FAILED, None, "The endpoint answered 410 Gone: it asked for no more deliveries.")
    if failing_since is not None and now - failing_since >= GIVE_UP_AFTER:
        return Outcome(FAILED, None, f"Every delivery failed for {GIVE_UP_AFTER.days} days (since "
                                     f"{failing_since:%Y-%m-%d %H:%M} UTC).")
    if attempts >= len(SCHEDULE):
        return Outcome(FAILED, None, None)
    delay = SCHEDULE[attempts] * (1 + JITTER * jitter)
    asked = retry_after_seconds(retry_after, now) if code in (429, 503) else None
    if asked is not None:
        delay = min(asked, LONGEST_RETRY_AFTER.total_seconds())
    return Outcome(PENDING, now + timedelta(seconds=delay), None)
