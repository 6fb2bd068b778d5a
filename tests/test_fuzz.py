"""Every operation of the OpenAPI document, fuzzed with schemathesis while signed
in: no 5xx, no response that breaks the document, and a refused request
leaves the stored data exactly as it was."""
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi import checks
from hypothesis import HealthCheck, given, settings
from sqlalchemy import select

from pomodoro import actions
from pomodoro.models import ApiToken, Cycle, Session, User

from .conftest import ROOT


@pytest.fixture
def account(auth, db):
    """A user with some history, so that ids and transitions have something to hit."""
    account = auth.sign_up(work_seconds=600)
    user = db.session.get(User, account.id)
    session = actions.start_session(user)
    actions.pause_session(user, session.id)
    return account


# Every check that looks at one request and its answer. "Schema-valid data is
# accepted" takes its exceptions from schemathesis.toml: the rules the
# document states in words but cannot put in a schema (`from` not after `to`;
# a webhook URL that resolves to public addresses).
CHECKS = [
    not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
    checks.positive_data_acceptance,
    checks.missing_required_header,
    checks.ignored_auth,
]
CONFIG = SchemathesisConfig.from_path(str(ROOT / "schemathesis.toml"))


def spare_token(db, user_id: str) -> str:
    record, secret = ApiToken.issue(db.session.get(User, user_id))
    db.session.add(record)
    db.session.commit()
    return secret


def stored(db) -> tuple:
    """Everything a request could change, as plain values, but a token's last
    use: any request with it, refused or not, writes that once a minute."""
    db.session.rollback()
    rows = []
    for model in (User, ApiToken, Cycle, Session):
        columns = [c for c in model.__table__.columns if c is not ApiToken.__table__.c.last_used_at]
        rows.append(sorted(tuple(getattr(row, c.key) for c in columns) for row in db.session.scalars(select(model))))
    return tuple(map(tuple, rows))


def test_no_request_breaks_the_api_and_a_refused_one_changes_nothing(app, account, db):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app, config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15, "every operation of the document is fuzzed"
    for operation in operations:
        fuzz(operation, account, db)


def fuzz(operation, account, db) -> None:
    revokes = (operation.method.upper(), operation.path) == ("DELETE", "/auth/token")

    @given(case=operation.as_strategy())
    @settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def one_request(case):
        # Revoking gets a token of its own, so the rest of the run keeps its credentials.
        token = spare_token(db, account.id) if revokes else account.token
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        before = stored(db)
        response = case.call()
        case.validate_response(response, checks=CHECKS)
        if 400 <= response.status_code < 500:
            assert stored(db) == before, f"{case.method} {case.formatted_path} was refused but changed data"

    one_request()
