"""The webhook rules, free of I/O: addresses, signatures, what follows an attempt."""
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from standardwebhooks import Webhook as Verifier

from pomodoro import webhook_rules as rules

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
                                     "100.64.0.1", "0.0.0.0", "224.0.0.1", "239.255.255.250", "240.0.0.1",
                                     "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1",
                                     "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2002:7f00:1::1", "2001:db8::1",
                                     "64:ff9b::a00:1"])
def test_special_addresses_are_refused(address):
    assert rules.address_problem(address) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.215.14"])
def test_public_addresses_are_allowed(address):
    assert rules.address_problem(address) is None


def test_one_bad_address_among_a_hosts_answers_refuses_the_host():
    with pytest.raises(rules.AddressRefused, match="127.0.0.1"):
        rules.check_addresses("rebind.example", ["93.184.215.14", "127.0.0.1"], allow_private=False)
    assert rules.check_addresses("lan", ["10.0.0.2"], allow_private=True) == "10.0.0.2"


@pytest.mark.parametrize(("url", "allow"), [("http://example.org/", False), ("ftp://example.org/", True),
                                            ("https:///path", False), ("https://u:p@example.org/", False),
                                            ("https://example.org:99999/", False)])
def test_urls_that_cannot_be_called(url, allow):
    with pytest.raises(rules.AddressRefused):
        rules.parse_url(url, allow)


def test_a_url_is_taken_apart_with_its_default_port():
    assert rules.parse_url("https://example.org/in?x=1", False) == ("https", "example.org", 443, "/in?x=1")
    assert rules.parse_url("http://10.0.0.2:8080", True) == ("http", "10.0.0.2", 8080, "/")


def test_the_signature_is_what_standard_webhooks_verifies():
    old, new = rules.new_secret(), rules.new_secret()
    timestamp = int(NOW.timestamp())
    header = rules.sign([new, old], "msg_1", timestamp, '{"a":1}')
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(timestamp), "webhook-signature": header}
    for secret in (old, new):
        verifier = Verifier(secret)
        assert header.split(" ")[[new, old].index(secret)] == verifier.sign("msg_1", NOW, '{"a":1}')


def test_the_previous_secret_signs_only_until_its_time():
    assert rules.signing_secrets("new", "old", NOW + timedelta(seconds=1), NOW) == ["new", "old"]
    assert rules.signing_secrets("new", "old", NOW, NOW) == ["new"]
    assert rules.signing_secrets("new", None, None, NOW) == ["new"]


def test_failures_follow_the_schedule_with_jitter_then_fail():
    for attempts, delay in enumerate(rules.SCHEDULE[1:], start=1):
        for jitter in (-1, 0, 1):
            outcome = rules.after_attempt(attempts, 500, None, NOW, NOW, jitter)
            assert outcome.status == rules.PENDING
            assert outcome.next_attempt_at - NOW == timedelta(seconds=delay * (1 + rules.JITTER * jitter))
    assert rules.after_attempt(len(rules.SCHEDULE), 500, None, NOW, NOW, 0).status == rules.FAILED
    assert rules.after_attempt(1, None, None, NOW, NOW, 0).status == rules.PENDING  # no answer at all


def test_only_2xx_is_success_and_410_disables():
    assert rules.after_attempt(1, 204, None, None, NOW, 0).status == rules.DELIVERED
    for code in (301, 302, 400, 404, 500):
        assert rules.after_attempt(1, code, None, NOW, NOW, 0).status == rules.PENDING
    gone = rules.after_attempt(1, 410, None, NOW, NOW, 0)
    assert gone.status == rules.FAILED and "410" in gone.disable_reason


def test_retry_after_is_honoured_on_429_and_503_only():
    later = NOW + timedelta(minutes=7)
    assert rules.after_attempt(1, 429, "120", NOW, NOW, 1).next_attempt_at == NOW + timedelta(seconds=120)
    assert rules.after_attempt(1, 503, format_datetime(later, usegmt=True), NOW, NOW, 0).next_attempt_at == later
    assert rules.after_attempt(1, 500, "120", NOW, NOW, 0).next_attempt_at == NOW + timedelta(seconds=5)
    assert rules.after_attempt(1, 503, "999999", NOW, NOW, 0).next_attempt_at == NOW + timedelta(hours=24)
    assert rules.after_attempt(1, 503, "soon", NOW, NOW, 0).next_attempt_at == NOW + timedelta(seconds=5)


def test_five_days_of_failing_everything_disables_the_endpoint():
    assert rules.after_attempt(3, 500, None, NOW - timedelta(days=4, hours=23), NOW, 0).disable_reason is None
    outcome = rules.after_attempt(3, 500, None, NOW - timedelta(days=5), NOW, 0)
    assert outcome.status == rules.FAILED and "5 days" in outcome.disable_reason
