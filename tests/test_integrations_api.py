"""Personal API tokens and the webhook endpoints, through the JSON API."""
from datetime import timedelta

import pytest
from sqlalchemy import update

from pomodoro.models import ApiToken, WebhookDelivery, utcnow

from .helpers import statements

ALLOW_PRIVATE = {"WEBHOOK_ALLOW_PRIVATE": True}


def tokens_of(client, account):
    response = client.get("/auth/tokens", headers=account.headers)
    assert response.status_code == 200
    return response.json["items"]


# -- tokens ----------------------------------------------------------------------------

def test_a_named_token_works_is_listed_without_its_secret_and_stops_when_revoked(client, auth):
    ada = auth.sign_up()
    made = client.post("/auth/tokens", json={"name": "lights", "expires_in_days": 30}, headers=ada.headers)
    assert made.status_code == 201
    token = made.json["token"]
    assert made.json["name"] == "lights" and made.json["token_type"] == "Bearer"
    assert made.json["expires_at"] > made.json["created_at"]

    assert client.get("/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    listed = {item["name"]: item for item in tokens_of(client, ada)}
    assert set(listed) == {"lights", next(name for name in listed if name.startswith("Signed in "))}
    assert all("token" not in item and "token_hash" not in item for item in listed.values())
    assert listed["lights"]["last_used_at"] is not None

    assert client.delete(f"/auth/tokens/{made.json['id']}", headers=ada.headers).status_code == 204
    assert client.get("/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "lights" not in {item["name"] for item in tokens_of(client, ada)}


def test_an_expired_token_answers_401_exactly_like_a_revoked_one(client, auth, db):
    ada = auth.sign_up()
    made = client.post("/auth/tokens", json={"name": "old", "expires_in_days": 1}, headers=ada.headers).json
    revoked = client.post("/auth/tokens", json={"name": "gone"}, headers=ada.headers).json
    client.delete(f"/auth/tokens/{revoked['id']}", headers=ada.headers)
    db.session.execute(update(ApiToken).where(ApiToken.id == made["id"]).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()

    expired = client.get("/users/me", headers={"Authorization": f"Bearer {made['token']}"})
    gone = client.get("/users/me", headers={"Authorization": f"Bearer {revoked['token']}"})
    assert expired.status_code == gone.status_code == 401
    assert expired.json == gone.json
    assert client.delete(f"/auth/tokens/{made['id']}", headers=ada.headers).status_code == 404


def test_last_use_is_written_at_most_once_a_minute(client, auth, db):
    ada = auth.sign_up()
    made = client.post("/auth/tokens", json={"name": "script"}, headers=ada.headers).json
    headers = {"Authorization": f"Bearer {made['token']}"}
    def writes():
        return [statement for statement in sent if statement.startswith("UPDATE api_tokens")]

    with statements() as sent:
        for _ in range(5):
            assert client.get("/users/me", headers=headers).status_code == 200
        assert len(writes()) == 1
        db.session.execute(update(ApiToken).where(ApiToken.id == made["id"])
                           .values(last_used_at=utcnow() - timedelta(seconds=61)))
        db.session.commit()
        sent.clear()
        client.get("/users/me", headers=headers)
        assert len(writes()) == 1
    used = next(item for item in tokens_of(client, ada) if item["id"] == made["id"])
    assert used["last_used_at"] is not None


def test_the_password_token_is_named_for_its_sign_in(client, auth):
    ada = auth.sign_up()
    assert [item["name"][:10] for item in tokens_of(client, ada)] == ["Signed in "]


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x" * 101}, {"name": "a", "expires_in_days": 0},
                                  {"name": "a", "expires_in_days": "3"}, {"name": "a", "expires_in_days": 1.5},
                                  {"name": "a", "extra": 1}])
def test_bad_token_requests_are_422_and_store_nothing(client, auth, body):
    ada = auth.sign_up()
    response = client.post("/auth/tokens", json=body, headers=ada.headers)
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid"
    assert len(tokens_of(client, ada)) == 1


# -- webhooks ----------------------------------------------------------------------------

@pytest.fixture
def app_config():
    return dict(ALLOW_PRIVATE)


def test_a_webhook_shows_its_secret_once_and_can_be_changed_and_deleted(client, auth):
    ada = auth.sign_up()
    made = client.post("/webhooks", json={"url": "http://127.0.0.1:9/hook", "description": "lamp"}, headers=ada.headers)
    assert made.status_code == 201
    assert made.json["secret"].startswith("whsec_")
    assert made.json["events"] is None and made.json["enabled"] is True
    hook = made.json["id"]
    got = client.get(f"/webhooks/{hook}", headers=ada.headers).json
    assert "secret" not in got and got["description"] == "lamp"
    assert [item["id"] for item in client.get("/webhooks", headers=ada.headers).json["items"]] == [hook]

    changed = client.patch(f"/webhooks/{hook}", json={"events": ["session.completed"], "enabled": False},
                           headers=ada.headers)
    assert changed.status_code == 200
    assert changed.json["events"] == ["session.completed"] and changed.json["enabled"] is False
    assert client.post(f"/webhooks/{hook}/test", headers=ada.headers).status_code == 409

    rotated = client.post(f"/webhooks/{hook}/rotate-secret", headers=ada.headers)
    assert rotated.status_code == 200 and rotated.json["secret"] != made.json["secret"]
    assert rotated.json["previous_secret_until"] is not None

    assert client.delete(f"/webhooks/{hook}", headers=ada.headers).status_code == 204
    assert client.get(f"/webhooks/{hook}", headers=ada.headers).status_code == 404


@pytest.mark.parametrize("body", [
    {}, {"url": ""}, {"url": "not a url"}, {"url": "ftp://example.org/"}, {"url": "http://127.0.0.1/", "events": ["nope"]},
    {"url": "http://127.0.0.1/", "events": "session.started"}, {"url": "http://127.0.0.1/", "enabled": True},
    {"url": "http://user:pw@127.0.0.1/"}, {"url": "http://127.0.0.1/", "description": "x" * 501},
])
def test_bad_webhook_requests_are_422_and_store_nothing(client, auth, body):
    ada = auth.sign_up()
    response = client.post("/webhooks", json=body, headers=ada.headers)
    assert response.status_code == 422, response.json
    assert client.get("/webhooks", headers=ada.headers).json["items"] == []


def test_every_new_id_of_another_user_is_404_just_like_a_missing_one(client, auth, db):
    ada, bo = auth.sign_up(), auth.sign_up()
    hook = client.post("/webhooks", json={"url": "http://127.0.0.1:9/"}, headers=ada.headers).json["id"]
    client.post(f"/webhooks/{hook}/test", headers=ada.headers)
    delivery = db.session.scalar(WebhookDelivery.__table__.select().with_only_columns(WebhookDelivery.id))
    token = tokens_of(client, ada)[0]["id"]
    requests = [
        ("GET", "/webhooks/{hook}", None), ("PATCH", "/webhooks/{hook}", {"description": "x"}),
        ("DELETE", "/webhooks/{hook}", None), ("POST", "/webhooks/{hook}/test", None),
        ("POST", "/webhooks/{hook}/rotate-secret", None), ("GET", "/webhooks/{hook}/deliveries", None),
        ("POST", "/webhooks/{hook}/deliveries/{delivery}/retry", None), ("DELETE", "/auth/tokens/{token}", None),
    ]
    adas = {"hook": hook, "delivery": delivery, "token": token}
    nobodys = {key: "0" * 32 for key in adas}
    for method, path, body in requests:
        theirs = client.open(path.format(**adas), method=method, json=body, headers=bo.headers)
        missing = client.open(path.format(**nobodys), method=method, json=body, headers=bo.headers)
        assert theirs.status_code == 404, (method, path)
        assert (theirs.status_code, theirs.json) == (missing.status_code, missing.json), (method, path)
    assert client.get(f"/webhooks/{hook}", headers=ada.headers).json["description"] == ""
    assert len(tokens_of(client, ada)) == 1


def test_the_delivery_log_is_newest_first_and_paginated(client, auth):
    ada = auth.sign_up()
    hook = client.post("/webhooks", json={"url": "http://127.0.0.1:9/"}, headers=ada.headers).json["id"]
    queued = [client.post(f"/webhooks/{hook}/test", headers=ada.headers).json["delivery_id"] for _ in range(3)]
    page = client.get(f"/webhooks/{hook}/deliveries?per_page=2", headers=ada.headers).json
    assert page["total"] == 3
    assert [item["id"] for item in page["items"]] == queued[::-1][:2]
    assert {item["event"] for item in page["items"]} == {"webhook.test"}


def test_nothing_answers_without_credentials(client):
    for method, path in [("GET", "/auth/tokens"), ("POST", "/auth/tokens"), ("GET", "/webhooks"), ("POST", "/webhooks")]:
        assert client.open(path, method=method, json={}).status_code == 401


def test_making_tokens_is_limited_per_account(client, auth):
    ada, bo = auth.sign_up(), auth.sign_up()
    for _ in range(30):
        assert client.post("/auth/tokens", json={"name": "script"}, headers=ada.headers).status_code == 201
    limited = client.post("/auth/tokens", json={"name": "one too many"}, headers=ada.headers)
    assert limited.status_code == 429 and limited.json["error"]["code"] == "rate_limited"
    assert client.post("/auth/tokens", json={"name": "script"}, headers=bo.headers).status_code == 201  # Bo's own count
