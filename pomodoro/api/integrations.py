"""The JSON API of integrations: personal API tokens and webhooks."""
from flask_login import current_user
from flask_smorest import Blueprint

from .. import auth, schemas, tokens, webhooks
from ..extensions import limiter
from . import per_user, protect

bp = Blueprint("integrations", __name__, description="Personal API tokens and webhooks")
protect(bp)

# Each of these makes a secret or sends a request to somewhere else: a script gone wrong must not loop on it.
CREATE_LIMIT = "30 per minute"
SEND_LIMIT = "30 per minute"


# -- personal API tokens ------------------------------------------------------------

@bp.route("/auth/tokens")
@bp.response(200, schemas.ApiTokenList)
def list_tokens():
    """Your API tokens (never their secrets), newest first."""
    return {"items": tokens.owned(current_user)}


@bp.route("/auth/tokens", methods=["POST"])
@limiter.limit(CREATE_LIMIT, key_func=per_user)
@bp.arguments(schemas.NewApiToken)
@bp.response(201, schemas.NewApiTokenAnswer)
def create_token(fields):
    """A new token with a name and an optional expiry; its secret is shown this once."""
    record, secret = tokens.create(current_user, fields["name"], fields.get("expires_in_days"))
    shown = {name: getattr(record, name) for name in ("id", "name", "created_at", "last_used_at", "expires_at")}
    return {**shown, "token": secret, "token_type": "Bearer"}


@bp.route("/auth/tokens/<token_id>", methods=["DELETE"])
@bp.response(204)
def revoke_token(token_id):
    """Revoke a token: it stops working at once."""
    auth.revoke(tokens.get(current_user, token_id))


# -- webhooks -------------------------------------------------------------------------

@bp.route("/webhooks")
@bp.response(200, schemas.WebhookList)
def list_webhooks():
    """Your webhook endpoints."""
    return {"items": webhooks.owned(current_user)}


@bp.route("/webhooks", methods=["POST"])
@limiter.limit(CREATE_LIMIT, key_func=per_user)
@bp.arguments(schemas.NewWebhook)
@bp.response(201, schemas.WebhookWithSecret)
def create_webhook(fields):
    """Add an endpoint; its signing secret is shown this once."""
    return webhooks.create(current_user, fields["url"], fields.get("events"), fields["description"])


@bp.route("/webhooks/<webhook_id>")
@bp.response(200, schemas.Webhook)
def get_webhook(webhook_id):
    """One endpoint."""
    return webhooks.get(current_user, webhook_id)


@bp.route("/webhooks/<webhook_id>", methods=["PATCH"])
@bp.arguments(schemas.WebhookChange, required=False)  # every field is optional, so the body is too
@bp.response(200, schemas.Webhook)
def update_webhook(changes, webhook_id):
    """Change its URL, events, description, or enable or disable it."""
    return webhooks.update_webhook(webhooks.get(current_user, webhook_id), changes)


@bp.route("/webhooks/<webhook_id>", methods=["DELETE"])
@bp.response(204)
def delete_webhook(webhook_id):
    """Delete an endpoint and its delivery log."""
    webhooks.delete(webhooks.get(current_user, webhook_id))


@bp.route("/webhooks/<webhook_id>/test", methods=["POST"])
@limiter.limit(SEND_LIMIT, key_func=per_user)
@bp.response(202, schemas.Queued)
@bp.alt_response(409, schema=schemas.Error, description="The endpoint is disabled")
def send_test(webhook_id):
    """Queue a `webhook.test` delivery to this endpoint."""
    return {"delivery_id": webhooks.send_test(webhooks.get(current_user, webhook_id)).id}


@bp.route("/webhooks/<webhook_id>/rotate-secret", methods=["POST"])
@limiter.limit(CREATE_LIMIT, key_func=per_user)
@bp.response(200, schemas.WebhookWithSecret)
def rotate_secret(webhook_id):
    """A new signing secret, shown this once; for 24 hours deliveries carry both signatures."""
    return webhooks.rotate_secret(webhooks.get(current_user, webhook_id))


@bp.route("/webhooks/<webhook_id>/deliveries")
@bp.arguments(schemas.Page, location="query")
@bp.response(200, schemas.WebhookDeliveryList)
def list_deliveries(page, webhook_id):
    """The endpoint's delivery log, newest first."""
    items, total = webhooks.deliveries(webhooks.get(current_user, webhook_id), page["page"], page["per_page"])
    return {"items": items, "total": total, **page}


@bp.route("/webhooks/<webhook_id>/deliveries/<delivery_id>/retry", methods=["POST"])
@limiter.limit(SEND_LIMIT, key_func=per_user)
@bp.response(202, schemas.Queued)
@bp.alt_response(409, schema=schemas.Error, description="The endpoint is disabled")
def retry_delivery(webhook_id, delivery_id):
    """Try a delivery again now."""
    return {"delivery_id": webhooks.retry(webhooks.get_delivery(current_user, webhook_id, delivery_id)).id}
