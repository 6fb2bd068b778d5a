"""Method confusion: HEAD is GET without a body, whatever it carries, so no
HEAD ever acts; everything that changes state takes only its own methods and
sits behind CSRF (and, where guessing is possible, a limit)."""
import pytest
from werkzeug.exceptions import MethodNotAllowed

from .test_api import person, stored_rows
from .test_pages import PASSWORD, Person

FORM = {"email": "ada@example.org", "password": PASSWORD, "name": "Ada", "work_minutes": "1",
        "short_break_minutes": "1", "long_break_minutes": "1", "long_break_interval": "2",
        "timezone": "Europe/Paris", "session_id": "x"}
SAFE = {"GET", "HEAD", "OPTIONS"}


@pytest.fixture
def browser(client):
    someone = Person(client)
    someone.sign_up()
    return someone


def test_head_with_the_right_password_does_not_log_in(client, app):
    person(app, email="ada@example.org")
    response = client.head("/login", data={"email": "ada@example.org", "password": "correct horse"})
    assert response.status_code == 200  # the log-in form's status, as for GET: no 303 to tell a guesser
    assert response.get_data() == b""
    assert client.get("/").status_code == 303  # still a stranger


def test_head_with_a_form_body_changes_nothing_anywhere(client, app, browser):
    """Every URL that takes GET and a writing method, HEAD'ed with a form body
    and no CSRF token: the answer GET gives, and nothing stored changes."""
    rules = [rule for rule in app.url_map.iter_rules()
             if "GET" in rule.methods and rule.methods - SAFE and not rule.arguments]
    assert {rule.rule for rule in rules} >= {"/login", "/signup", "/settings"}
    before = stored_rows(app)
    for rule in rules:
        expected = client.get(rule.rule).status_code
        response = client.head(rule.rule, data=FORM)
        assert response.status_code == expected, rule.rule
        assert stored_rows(app) == before, f"HEAD {rule.rule} changed data"


def test_head_on_every_route_acts_like_get(client, app, browser):
    before = stored_rows(app)
    for rule in app.url_map.iter_rules():
        if "HEAD" in rule.methods and not rule.arguments:
            assert client.head(rule.rule, data=FORM).status_code < 500, rule.rule
    assert stored_rows(app) == before


def test_writing_routes_take_only_their_methods(client, app, browser):
    """A page or API route that writes answers 405 to any other method, and a
    writing method is never served without the CSRF guard (cookie requests)."""
    methods_by_path = {}
    for rule in app.url_map.iter_rules():
        if not rule.arguments and rule.endpoint != "static":
            methods_by_path.setdefault(rule.rule, set()).update(rule.methods)
    before = stored_rows(app)
    for path, methods in methods_by_path.items():
        if not methods - SAFE:
            continue
        for method in {"PUT", "DELETE", "PATCH", "POST"} - methods:
            if _routed(app, path, method):
                continue  # another route takes it (PATCH /sessions/<id> matches /sessions/start)
            response = client.open(path, method=method, data=FORM)
            assert response.status_code == 405, (method, path, response.status_code)
        for method in methods - SAFE:  # a browser's cookie, no token: refused before it acts
            response = client.open(path, method=method, data=FORM)
            assert response.status_code in (303, 400, 415), (method, path, response.status_code)
            assert stored_rows(app) == before, f"{method} {path} without a CSRF token changed data"
    assert client.get("/").status_code == 200  # still signed in: log-out was refused too


def _routed(app, path: str, method: str) -> bool:
    try:
        app.url_map.bind("localhost").match(path, method=method)
    except MethodNotAllowed:
        return False
    return True


def test_the_document_says_a_body_is_optional_wherever_every_field_is(client):
    """Where no field is required the server takes no body at all, and the
    OpenAPI document says so (or schemathesis rightly reports the mismatch)."""
    document = client.get("/openapi.json").json
    schemas = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody") if isinstance(operation, dict) else None  # (path-level parameters)
            if body is None:
                continue
            schema = body["content"]["application/json"]["schema"]
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema
            assert body.get("required", False) == bool(schema.get("required")), (method, path)
