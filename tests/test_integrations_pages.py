"""The settings page's API tokens and webhooks, and a webhook's own page, through
the test client: secrets shown once, forms that post then 303, refusals shown."""
import re

import pytest

from pomodoro.models import ApiToken, Webhook

from .test_pages import HTMX, Person, stored


@pytest.fixture
def app_config():
    return {"WEBHOOK_ALLOW_PRIVATE": True}


@pytest.fixture
def ada(client):
    person = Person(client)
    person.sign_up()
    person.get("/settings")
    return person


def webhook_id(text: str) -> str:
    return re.search(r"/settings/webhooks/([0-9a-f]{32})", text)[1]


def test_settings_shows_the_integrations_sections(ada):
    page = ada.get("/settings").text
    assert 'id="api-tokens"' in page and 'id="webhooks"' in page
    assert "Signed in " not in page  # a browser sign-in makes no token


def test_a_token_is_shown_once_listed_and_revoked(ada, app):
    client = app.test_client()  # a script: no browser cookie
    assert ada.post("/settings/tokens", {"name": "Desk lamp", "expires_in_days": "30"}).status_code == 303
    made = ada.get("/settings")
    secret = re.search(r'id="new-token-value">([^<]+)<', made.text)[1]
    assert client.get("/users/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    page = ada.get("/settings").text  # shown once
    assert "Desk lamp" in page and secret not in page
    token_id = re.search(r"/settings/tokens/([0-9a-f]{32})/revoke", page)[1]

    revoked = ada.post(f"/settings/tokens/{token_id}/revoke")
    assert revoked.status_code == 303
    assert client.get("/users/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert stored(app, ApiToken, token_id) is None


def test_a_token_without_a_name_is_refused_on_the_page(ada):
    response = ada.post("/settings/tokens", {"name": " ", "expires_in_days": "7"})
    assert response.status_code == 422
    assert 'id="name-error"' in response.text


def test_a_webhook_is_added_with_its_secret_shown_once_then_edited_tested_and_deleted(ada, app):
    added = ada.post("/settings/webhooks", {"url": "http://127.0.0.1:9/in", "description": "lamp",
                                            "events": "session.completed"})
    assert added.status_code == 303
    hook = webhook_id(added.headers["Location"])
    made = ada.get(f"/settings/webhooks/{hook}")
    secret = stored(app, Webhook, hook).secret
    assert secret in made.text
    page = ada.get(f"/settings/webhooks/{hook}")
    assert secret not in page.text and "lamp" in page.text

    edited = ada.post(f"/settings/webhooks/{hook}", {"editing": "1", "url": "http://127.0.0.1:9/other",
                                                     "description": "", "enabled": "on"})
    assert edited.status_code == 303
    assert stored(app, Webhook, hook).url == "http://127.0.0.1:9/other"
    assert stored(app, Webhook, hook).events is None

    assert ada.post(f"/settings/webhooks/{hook}/test").status_code == 303
    assert "webhook.test" in ada.get(f"/settings/webhooks/{hook}").text
    fragment = ada.get(f"/settings/webhooks/{hook}", htmx=True)
    assert fragment.text.lstrip().startswith('<section class="card delivery-log"')

    assert ada.post(f"/settings/webhooks/{hook}/rotate").status_code == 303
    rotated = ada.get(f"/settings/webhooks/{hook}")
    assert stored(app, Webhook, hook).secret in rotated.text and "24 hours" in rotated.text

    assert ada.post(f"/settings/webhooks/{hook}/delete").status_code == 303
    assert stored(app, Webhook, hook) is None


def test_a_disabled_webhook_says_why_and_refuses_a_test_on_its_page(ada, app):
    hook = webhook_id(ada.post("/settings/webhooks", {"url": "http://127.0.0.1:9/"}).headers["Location"])
    assert ada.post(f"/settings/webhooks/{hook}", {"editing": "1", "url": "http://127.0.0.1:9/"}).status_code == 303
    assert ada.post(f"/settings/webhooks/{hook}/test").status_code == 303
    page = ada.get(f"/settings/webhooks/{hook}").text
    assert 'id="disabled-reason"' in page and "Enable the webhook" in page


@pytest.mark.parametrize("url", ["ftp://example.org/", "", "http://user:pw@127.0.0.1/"])
def test_a_bad_address_is_refused_on_the_page_and_nothing_is_stored(ada, app, url):
    response = ada.post("/settings/webhooks", {"url": url})
    assert response.status_code == 422 and 'id="url-error"' in response.text
    with app.app_context():
        from pomodoro.extensions import db
        assert db.session.query(Webhook).count() == 0


def test_another_persons_webhook_page_is_not_found(ada, client, app):
    hook = webhook_id(ada.post("/settings/webhooks", {"url": "http://127.0.0.1:9/"}).headers["Location"])
    ada.post("/logout")
    bo = Person(client)
    bo.sign_up("bo@example.org")
    assert bo.get(f"/settings/webhooks/{hook}").status_code == 404
    assert bo.post(f"/settings/webhooks/{hook}/delete").status_code == 404
    assert stored(app, Webhook, hook) is not None


def test_integration_forms_need_the_csrf_token(ada, app):
    for path, form in [("/settings/tokens", {"name": "x"}), ("/settings/webhooks", {"url": "http://127.0.0.1:9/"})]:
        response = ada.post(path, form, csrf=False)
        assert response.status_code in (303, 400)  # the pages' "form expired" answer
        assert "whsec_" not in response.text and "new-token" not in response.text
    with app.app_context():
        from pomodoro.extensions import db
        assert db.session.query(Webhook).count() == 0
        assert db.session.query(ApiToken).count() == 0


def test_pages_take_only_their_methods(ada):
    assert ada.client.get("/settings/tokens").status_code == 405
    assert ada.client.get("/settings/webhooks/x/delete").status_code == 405
