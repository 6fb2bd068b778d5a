"""Webhook deliveries to real receivers on 127.0.0.1 (WEBHOOK_ALLOW_PRIVATE=1),
checked as an outside receiver would: with the `standardwebhooks` verifier and
with an HMAC computed here."""
import base64
import hashlib
import hmac
import json
import socket
import ssl
import subprocess
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook as Verifier

from pomodoro import webhook_rules, webhooks
from pomodoro.models import Webhook, WebhookDelivery, utcnow

from .helpers import statements, user_record
from .live import wait_until
from .webhook_receiver import Receiver


@pytest.fixture
def app_config():
    return {"WEBHOOK_ALLOW_PRIVATE": True}


@pytest.fixture
def fast(monkeypatch):
    """A schedule of seconds instead of hours (the first retry 1.5 s later, so its timestamp differs)."""
    monkeypatch.setattr(webhook_rules, "SCHEDULE", (0, 1.5, 1.5, 1.5))


def add_webhook(client, account, url, **body):
    made = client.post("/webhooks", json={"url": url, **body}, headers=account.headers)
    assert made.status_code == 201, made.json
    return made.json


def log(client, account, hook):
    return client.get(f"/webhooks/{hook['id']}/deliveries", headers=account.headers).json["items"]


def settled(client, account, hook, status="delivered", count=1):
    """The log, once `count` of its deliveries have `status`."""
    return wait_until(lambda: (items := log(client, account, hook))
                      and sum(item["status"] == status for item in items) >= count and items,
                      10, 0.05, f"{count} {status} deliveries")


def hmac_signature(secret: str, request) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}.".encode() + request.body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def test_an_event_is_delivered_signed_as_the_standard_says(client, auth):
    ada = auth.sign_up()
    with Receiver() as receiver:
        hook = add_webhook(client, ada, receiver.url + "/in?x=1", events=["session.started"])
        session = client.post("/sessions", json={}, headers=ada.headers).json
        [delivery] = settled(client, ada, hook)

    [request] = receiver.received
    assert request.path == "/in?x=1"
    assert request.headers["webhook-id"] == delivery["id"]
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 30
    assert request.headers["webhook-signature"] == hmac_signature(hook["secret"], request)
    payload = Verifier(hook["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "session.started"
    assert payload["data"]["session"]["id"] == session["id"]
    assert payload["timestamp"].endswith("Z")
    assert (delivery["status"], delivery["attempts"], delivery["response_code"]) == ("delivered", 1, 200)
    assert delivery["response_body"] == "ok" and delivery["duration_ms"] >= 0


def test_a_500_is_retried_with_the_same_id_a_new_timestamp_and_a_valid_signature(client, auth, fast):
    ada = auth.sign_up()
    with Receiver([(500, {}, b"oops", 0), (200, {}, b"fine", 0)]) as receiver:
        hook = add_webhook(client, ada, receiver.url)
        client.post(f"/webhooks/{hook['id']}/test", headers=ada.headers)
        [delivery] = settled(client, ada, hook)

    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery["id"]
    assert first.headers["webhook-timestamp"] != second.headers["webhook-timestamp"]
    assert first.body == second.body
    for request in (first, second):
        assert Verifier(hook["secret"]).verify(request.body, request.headers)["type"] == "webhook.test"
        assert request.headers["webhook-signature"] == hmac_signature(hook["secret"], request)
    assert (delivery["attempts"], delivery["response_code"], delivery["response_body"]) == (2, 200, "fine")


def test_a_410_disables_the_endpoint_and_says_why(client, auth):
    ada = auth.sign_up()
    with Receiver([(410, {}, b"", 0)]) as receiver:
        hook = add_webhook(client, ada, receiver.url)
        client.post(f"/webhooks/{hook['id']}/test", headers=ada.headers)
        [delivery] = settled(client, ada, hook, "failed")
        client.post("/sessions", json={}, headers=ada.headers)  # no delivery: the endpoint is disabled
    assert delivery["response_code"] == 410 and delivery["attempts"] == 1
    now = client.get(f"/webhooks/{hook['id']}", headers=ada.headers).json
    assert now["enabled"] is False and "410" in now["disabled_reason"]
    assert len(log(client, ada, hook)) == 1 and receiver.count() == 1


def test_an_endpoint_that_does_not_answer_in_time_is_a_failed_attempt(client, auth, monkeypatch):
    monkeypatch.setattr(webhooks, "TIMEOUT", 1.0)
    monkeypatch.setattr(webhook_rules, "SCHEDULE", (0, 3600))
    ada = auth.sign_up()
    with Receiver([(200, {}, b"late", 3)]) as receiver:
        hook = add_webhook(client, ada, receiver.url)
        client.post(f"/webhooks/{hook['id']}/test", headers=ada.headers)
        [delivery] = wait_until(lambda: [one for one in log(client, ada, hook) if one["attempts"] == 1], 10)
    assert delivery["status"] == "pending" and delivery["response_code"] is None
    assert "No answer within 1 s" in delivery["error"]
    assert delivery["duration_ms"] < 2500
    assert delivery["next_attempt_at"] is not None


@contextmanager
def trickling_endpoint(seconds: float, head: bytes = b""):
    """An endpoint that reads the request, sends `head` at once, then the rest
    of its answer a byte at a time, 0.2 s apart, for `seconds`."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(head)
            rest = b"a" * int(seconds * 5) if head else b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * int(seconds * 5)
            for byte in rest:
                if stop.wait(0.2):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()


@pytest.mark.parametrize("head", [b"", b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"],
                         ids=["headers trickled", "body trickled after a 200"])
def test_an_endpoint_that_trickles_its_answer_gets_the_whole_attempt_timeout_not_more(client, auth, monkeypatch, head):
    """Each byte comes well within the timeout, but the attempt as a whole may not
    outlast it; a 200 whose body was still coming is no success."""
    monkeypatch.setattr(webhooks, "TIMEOUT", 1.0)
    monkeypatch.setattr(webhook_rules, "SCHEDULE", (0, 3600))
    ada = auth.sign_up()
    with trickling_endpoint(seconds=10, head=head) as url:
        hook = add_webhook(client, ada, url)
        client.post(f"/webhooks/{hook['id']}/test", headers=ada.headers)
        [delivery] = wait_until(lambda: [one for one in log(client, ada, hook) if one["attempts"] == 1], 10)
    assert delivery["status"] == "pending" and delivery["response_code"] is None
    assert "No answer within 1 s" in delivery["error"]
    assert delivery["duration_ms"] < 2500


def test_an_https_endpoint_must_show_a_certificate_we_trust(client, auth, monkeypatch, tmp_path):
    """The https path checks the certificate: a self-signed one is refused, and nothing is sent."""
    monkeypatch.setattr(webhook_rules, "SCHEDULE", (0, 3600))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", tmp_path / "key.pem", "-out", tmp_path / "cert.pem"], check=True, capture_output=True)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    with Receiver() as receiver:
        receiver.server.socket = tls.wrap_socket(receiver.server.socket, server_side=True)
        ada = auth.sign_up()
        hook = add_webhook(client, ada, receiver.url.replace("http://", "https://"))
        client.post(f"/webhooks/{hook['id']}/test", headers=ada.headers)
        [delivery] = wait_until(lambda: [one for one in log(client, ada, hook) if one["attempts"] == 1], 10)
        assert receiver.count() == 0
    assert delivery["response_code"] is None and "CERTIFICATE_VERIFY_FAILED" in delivery["error"], delivery["error"]


def test_a_redirect_is_not_followed(client, auth, monkeypatch):
    monkeypatch.setattr(webhook_rules, "SCHEDULE", (0, 3600))
    ada = auth.sign_up()
    with Receiver() as elsewhere, Receiver([(302, {"Location": elsewhere.url}, b"", 0)]) as receiver:
        hook = add_webhook(client, ada, receiver.url)
        client.post(f"/webhooks/{hook['id']}/test", headers=ada.headers)
        [delivery] = wait_until(lambda: [one for one in log(client, ada, hook) if one["attempts"] == 1], 10)
        assert elsewhere.count() == 0
    assert (delivery["status"], delivery["response_code"]) == ("pending", 302)
    assert "redirects are not followed" in delivery["error"]


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(client, auth, monkeypatch, status):
    monkeypatch.setattr(webhook_rules, "SCHEDULE", (0, 3600))  # only Retry-After can bring it back soon
    ada = auth.sign_up()
    with Receiver([(status, {"Retry-After": "1"}, b"", 0), (200, {}, b"", 0)]) as receiver:
        hook = add_webhook(client, ada, receiver.url)
        client.post(f"/webhooks/{hook['id']}/test", headers=ada.headers)
        [delivery] = settled(client, ada, hook)
    first, second = receiver.received
    assert 0.9 <= second.at - first.at < 4
    assert delivery["attempts"] == 2


def test_after_a_rotation_both_secrets_sign_for_a_day(client, auth):
    ada = auth.sign_up()
    with Receiver() as receiver:
        hook = add_webhook(client, ada, receiver.url)
        new = client.post(f"/webhooks/{hook['id']}/rotate-secret", headers=ada.headers).json
        client.post(f"/webhooks/{hook['id']}/test", headers=ada.headers)
        settled(client, ada, hook)
    [request] = receiver.received
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (hook["secret"], new["secret"]):
        Verifier(secret).verify(request.body, request.headers)


def test_an_endpoint_gets_only_the_events_it_asked_for(client, auth):
    ada = auth.sign_up()
    with Receiver() as receiver:
        hook = add_webhook(client, ada, receiver.url, events=["session.paused"])
        session = client.post("/sessions", json={}, headers=ada.headers).json
        client.patch(f"/sessions/{session['id']}/stop", headers=ada.headers)
        [delivery] = settled(client, ada, hook)
    assert delivery["event"] == "session.paused"
    assert [json.loads(one.body)["type"] for one in receiver.received] == ["session.paused"]


def test_a_refused_change_records_no_delivery(client, auth, db):
    ada = auth.sign_up()
    with Receiver() as receiver:
        hook = add_webhook(client, ada, receiver.url)
        client.post("/sessions", json={}, headers=ada.headers)
        assert client.post("/sessions", json={}, headers=ada.headers).status_code == 409
        settled(client, ada, hook, count=2)  # cycle.created and session.started, once each
    assert sorted(item["event"] for item in log(client, ada, hook)) == ["cycle.created", "session.started"]


def test_the_sweep_sends_a_due_delivery_whose_job_was_lost(client, auth, db, monkeypatch):
    ada = auth.sign_up()
    with Receiver() as receiver:
        hook = add_webhook(client, ada, receiver.url)
        monkeypatch.setattr(webhooks, "_dispatch_later", lambda made: None)  # the process died after the commit
        client.post(f"/webhooks/{hook['id']}/test", headers=ada.headers)
        assert [item["status"] for item in log(client, ada, hook)] == ["pending"]
        webhooks.sweep(now=utcnow() + timedelta(seconds=3))
        settled(client, ada, hook)
    assert receiver.count() == 1


def test_a_retry_sends_a_failed_delivery_again(client, auth, monkeypatch):
    monkeypatch.setattr(webhook_rules, "SCHEDULE", (0,))
    ada = auth.sign_up()
    with Receiver([(500, {}, b"", 0), (204, {}, b"", 0)]) as receiver:
        hook = add_webhook(client, ada, receiver.url)
        client.post(f"/webhooks/{hook['id']}/test", headers=ada.headers)
        [failed] = settled(client, ada, hook, "failed")
        retried = client.post(f"/webhooks/{hook['id']}/deliveries/{failed['id']}/retry", headers=ada.headers)
        assert retried.status_code == 202
        [delivery] = settled(client, ada, hook)
    assert (delivery["id"], delivery["attempts"], delivery["response_code"]) == (failed["id"], 2, 204)


def test_a_hanging_endpoint_does_not_hold_up_another(client, auth, monkeypatch):
    monkeypatch.setattr(webhooks, "TIMEOUT", 3.0)
    monkeypatch.setattr(webhook_rules, "SCHEDULE", (0, 3600))
    ada, bo = auth.sign_up(), auth.sign_up()
    with Receiver([(200, {}, b"", 3)]) as slow, Receiver() as quick:
        stuck = add_webhook(client, ada, slow.url)
        fine = add_webhook(client, bo, quick.url)
        for _ in range(webhooks.Sender.PER_DESTINATION + 4):
            client.post(f"/webhooks/{stuck['id']}/test", headers=ada.headers)
        wait_until(lambda: slow.count() >= 1, 5)
        started = time.time()
        client.post(f"/webhooks/{fine['id']}/test", headers=bo.headers)
        wait_until(lambda: quick.count() == 1, 2, message="the other endpoint's delivery")
        assert quick.received[0].at - started < 1.0
        assert slow.count() <= webhooks.Sender.PER_DESTINATION


# -- the address rules, without the switch -----------------------------------------------

@pytest.mark.parametrize("url", ["https://127.0.0.1/", "https://10.0.0.1/", "https://169.254.169.254/latest/",
                                 "https://[::1]/", "https://localhost/", "https://[::ffff:127.0.0.1]/",
                                 "https://224.0.0.1/", "https://0.0.0.0/", "https://[fe80::1]/", "https://[fc00::1]/",
                                 "http://example.org/"])
def test_private_and_special_addresses_are_refused_without_the_switch(client, auth, app, url):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    ada = auth.sign_up()
    response = client.post("/webhooks", json={"url": url}, headers=ada.headers)
    assert response.status_code == 422
    assert "url" in response.json["error"]["fields"]
    assert client.get("/webhooks", headers=ada.headers).json["items"] == []


def test_the_address_is_checked_again_at_each_send(client, auth, app, db, monkeypatch):
    monkeypatch.setattr(webhook_rules, "SCHEDULE", (0, 3600))
    ada = auth.sign_up()
    with Receiver() as receiver:
        hook = add_webhook(client, ada, receiver.url)
        app.config["WEBHOOK_ALLOW_PRIVATE"] = False  # as if the name now resolved to a private address
        client.post(f"/webhooks/{hook['id']}/test", headers=ada.headers)
        [delivery] = wait_until(lambda: [one for one in log(client, ada, hook) if one["attempts"] == 1], 10)
    assert receiver.count() == 0
    assert "Only https" in delivery["error"] or "address" in delivery["error"]
    stored = db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery["id"]))
    assert stored.status == "pending"


def test_each_log_keeps_its_newest_deliveries_and_every_pending_one(client, auth, db):
    ada = auth.sign_up()
    hook = add_webhook(client, ada, "http://127.0.0.1:9/")
    endpoint = db.session.get(webhooks.Webhook, hook["id"])
    start = utcnow() - timedelta(hours=1)
    for number in range(8):
        delivery = webhooks._new_delivery(endpoint, "webhook.test", {"n": number}, start + timedelta(seconds=number))
        delivery.status = "pending" if number == 0 else "delivered"
    db.session.commit()
    webhooks.prune(keep=3)
    kept = db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook["id"])).all()
    assert sorted(json.loads(one.payload)["data"]["n"] for one in kept) == [0, 5, 6, 7]


def test_an_endpoint_deleted_while_its_attempt_is_out_ends_the_attempt_quietly(app, auth, db, monkeypatch):
    ada = auth.sign_up()
    hook = webhooks.create(user_record(db, ada), "https://example.org/hook")
    delivery = webhooks._new_delivery(hook, "webhook.test", {}, utcnow())
    db.session.commit()  # stored, and handed to no sender: this test makes the attempt
    delivery_id = delivery.id

    def deleted_while_out(*_args):
        with app.app_context():
            webhooks.delete(db.session.get(Webhook, hook.id))
        return webhooks.Answer(200, "ok")

    monkeypatch.setattr(webhooks, "post", deleted_while_out)
    with app.app_context(), statements() as sent:
        webhooks.attempt(delivery_id)  # raises nothing: there is nothing left to record
    assert any(statement.startswith("UPDATE webhook_deliveries") for statement in sent[1:])  # it tried to
    db.session.expire_all()
    assert db.session.get(WebhookDelivery, delivery_id) is None
