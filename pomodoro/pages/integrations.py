"""Pages: integrations. The settings page's "API tokens" and "Webhooks"
sections, and a page per webhook with its delivery log. Validated by the
API's own schemas; every change goes through `tokens` and `webhooks`, as the
API's do.

Every form posts, then 303s. A new token or webhook secret cannot be read
back later, so it rides in the signed session cookie to the one page view
that shows it, which takes it out again (a reload shows it no more and makes
no second token).
"""
from flask import flash, request, session
from flask_login import current_user
from marshmallow import ValidationError

from .. import announcements, auth, tokens, webhooks
from ..extensions import limiter
from ..rules import Refused
from ..schemas import NewApiToken, NewWebhook, WebhookChange
from . import bp, htmx, page, see_other
from .settings import settings_form, settings_page

LOG_SHOWN = 100
CREATE_LIMIT = "30 per minute"


def per_user() -> str:
    return f"user:{current_user.id}"


SHOWN_ONCE = "integrations.shown_once"


def show_once(**secret) -> None:
    session[SHOWN_ONCE] = secret


def take_shown_once(**matching) -> dict:
    """The secret waiting to be shown, if it is for this page; it is shown no more."""
    waiting = session.get(SHOWN_ONCE)
    if waiting and all(waiting.get(key) == value for key, value in matching.items()):
        return session.pop(SHOWN_ONCE)
    return {}


@bp.app_template_global()
def integrations_of(user) -> dict:
    """What the settings page's integrations sections show (and a new token, once)."""
    return {"tokens": tokens.owned(user), "webhooks": webhooks.owned(user), "events": announcements.USER_EVENTS,
            "new_token": take_shown_once(kind="token")}


def settings_with(status: int = 200, **shown):
    """The settings page with the problems of an integrations form."""
    return settings_page(settings_form(current_user), status=status, **shown)


def _problems(error: ValidationError) -> dict:
    return {field: " ".join(messages) if isinstance(messages, list) else str(messages)
            for field, messages in error.messages.items()}


# -- tokens -----------------------------------------------------------------------

@bp.route("/settings/tokens", methods=["POST"])
@limiter.limit(CREATE_LIMIT, key_func=per_user)
def create_token():
    days = request.form.get("expires_in_days", "").strip()
    data = {"name": request.form.get("name", "").strip(),
            "expires_in_days": int(days) if days.isdigit() and len(days) < 6 else (days or None)}
    try:
        fields = NewApiToken().load(data)
    except ValidationError as error:
        return settings_with(422, token_form=data, token_errors=_problems(error))
    record, secret = tokens.create(current_user, fields["name"], fields.get("expires_in_days"))
    show_once(kind="token", name=record.name, secret=secret)
    return see_other("pages.settings", _anchor="api-tokens")


@bp.route("/settings/tokens/<token_id>/revoke", methods=["POST"])
def revoke_token(token_id):
    record = tokens.get(current_user, token_id)
    name = record.name
    auth.revoke(record)
    flash(f"Token “{name}” revoked: it no longer works.", "success")
    return see_other("pages.settings", _anchor="api-tokens")


# -- webhooks ----------------------------------------------------------------------

def webhook_fields(form, schema):
    data = {"url": form.get("url", "").strip(), "description": form.get("description", "").strip(),
            "events": form.getlist("events") or None}
    if "enabled" in form or form.get("editing"):
        data["enabled"] = "enabled" in form
    return schema.load(data), data


@bp.route("/settings/webhooks", methods=["POST"])
@limiter.limit(CREATE_LIMIT, key_func=per_user)
def create_webhook():
    try:
        fields, _ = webhook_fields(request.form, NewWebhook())
    except ValidationError as error:
        typed = {"url": request.form.get("url", ""), "description": request.form.get("description", ""),
                 "events": request.form.getlist("events")}
        return settings_with(422, webhook_form=typed, webhook_errors=_problems(error))
    webhook = webhooks.create(current_user, fields["url"], fields.get("events"), fields["description"])
    show_once(kind="webhook", webhook_id=webhook.id, secret=webhook.secret, rotated=False)
    return see_other("pages.webhook", webhook_id=webhook.id)


def webhook_page(webhook, status: int = 200, **context):
    items, _total = webhooks.deliveries(webhook, 1, LOG_SHOWN)
    if not htmx():  # the log's refresh does not take the secret from the page showing it
        context["shown"] = take_shown_once(kind="webhook", webhook_id=webhook.id)
    form = context.pop("form", None) or {"url": webhook.url, "description": webhook.description,
                                          "events": webhook.events or [], "enabled": webhook.enabled}
    return page("webhook.html", "delivery_log", status, webhook=webhook, deliveries=items, form=form,
                events=announcements.USER_EVENTS, errors=context.pop("errors", {}), **context)


@bp.route("/settings/webhooks/<webhook_id>", methods=["GET", "POST"])
def webhook(webhook_id):
    hook = webhooks.get(current_user, webhook_id)
    if request.method == "GET":
        return webhook_page(hook)
    try:
        fields, _ = webhook_fields(request.form, WebhookChange())
    except ValidationError as error:
        typed = {"url": request.form.get("url", ""), "description": request.form.get("description", ""),
                 "events": request.form.getlist("events"), "enabled": "enabled" in request.form}
        return webhook_page(hook, 422, form=typed, errors=_problems(error))
    webhooks.update_webhook(hook, fields)
    flash("Webhook saved.", "success")
    return see_other("pages.webhook", webhook_id=hook.id)


@bp.route("/settings/webhooks/<webhook_id>/test", methods=["POST"])
@limiter.limit(CREATE_LIMIT, key_func=per_user)
def test_webhook(webhook_id):
    try:
        webhooks.send_test(webhooks.get(current_user, webhook_id))
        flash("A webhook.test delivery is on its way; it shows in the log below.", "success")
    except Refused as refused:
        flash(str(refused), "error")
    return see_other("pages.webhook", webhook_id=webhook_id)


@bp.route("/settings/webhooks/<webhook_id>/rotate", methods=["POST"])
@limiter.limit(CREATE_LIMIT, key_func=per_user)
def rotate_webhook_secret(webhook_id):
    hook = webhooks.rotate_secret(webhooks.get(current_user, webhook_id))
    show_once(kind="webhook", webhook_id=hook.id, secret=hook.secret, rotated=True)
    return see_other("pages.webhook", webhook_id=hook.id)


@bp.route("/settings/webhooks/<webhook_id>/delete", methods=["POST"])
def delete_webhook(webhook_id):
    hook = webhooks.get(current_user, webhook_id)
    webhooks.delete(hook)
    flash("Webhook deleted.", "success")
    return see_other("pages.settings", _anchor="webhooks")


@bp.route("/settings/webhooks/<webhook_id>/deliveries/<delivery_id>/retry", methods=["POST"])
@limiter.limit(CREATE_LIMIT, key_func=per_user)
def retry_delivery(webhook_id, delivery_id):
    try:
        webhooks.retry(webhooks.get_delivery(current_user, webhook_id, delivery_id))
        flash("Sending it again.", "success")
    except Refused as refused:
        flash(str(refused), "error")
    return see_other("pages.webhook", webhook_id=webhook_id)
