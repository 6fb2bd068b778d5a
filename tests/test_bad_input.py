"""Bad input is refused with the right status and a JSON error, never a 5xx,
and never changes what is stored."""
import pytest

from .helpers import Api, assert_error, stored_rows

NUL, SURROGATE = "\x00", "\ud800"
NESTED_TOO_DEEP = "[" * 30000 + "]" * 30000  # fits in 64 KiB; json.loads runs out of stack
TOO_LARGE = '{"name": "' + "x" * (64 * 1024) + '"}'
HUGE_INTEGER = "9" * 5000  # past the 4,300 digits Python reads

CONFIGURATION = "/users/{me}/configuration"
STATUS = "/sessions/{session}/status"
SIGN_UP = {"email": "new@example.org", "password": "correct horse"}
CREDENTIALS = {"email": "ada@example.org", "password": "correct horse"}


BAD_REQUESTS = {
    "malformed JSON": [
        *[(method, path, "{", 400, None) for method, path in [
            ("POST", "/users"), ("POST", "/auth/token"), ("PATCH", CONFIGURATION),
            ("POST", "/cycles"), ("POST", "/sessions"), ("PATCH", STATUS)]],
        ("PATCH", CONFIGURATION, "{work_seconds: 60}", 400, None),
        ("PATCH", CONFIGURATION, '{"work_seconds": 60,}', 400, None),
        ("POST", "/sessions", b"\xff\xfe{}", 400, None),
        ("PATCH", CONFIGURATION, NESTED_TOO_DEEP, 400, None),
        ("POST", "/auth/token", NESTED_TOO_DEEP, 400, None),
    ],
    "JSON that is not an object": [
        *[("PATCH", CONFIGURATION, body, 422, "_schema") for body in ("null", "[]", '"work_seconds"', "60")],
        ("POST", "/sessions", [], 422, "_schema"),
        ("POST", "/users", "null", 422, "_schema"),
    ],
    "wrong types": [
        *[("PATCH", CONFIGURATION, {"work_seconds": value}, 422, "work_seconds")
          for value in ("25", 1.5, 25.0, True, None, [25], {"seconds": 25})],
        ("PATCH", CONFIGURATION, '{"work_seconds": NaN}', 422, "work_seconds"),
        ("PATCH", CONFIGURATION, '{"work_seconds": 1e400}', 422, "work_seconds"),
        ("PATCH", CONFIGURATION, {"short_break_seconds": "300"}, 422, "short_break_seconds"),
        ("PATCH", CONFIGURATION, {"long_break_interval": 2.0}, 422, "long_break_interval"),
        *[("PATCH", CONFIGURATION, {"auto_start_breaks": value}, 422, "auto_start_breaks")
          for value in ("true", 1, 0, None)],
        ("PATCH", CONFIGURATION, {"auto_start_work": "false"}, 422, "auto_start_work"),
        ("PATCH", CONFIGURATION, {"timezone": 1}, 422, "timezone"),
    ],
    "out of range": [
        *[("PATCH", CONFIGURATION, {field: value}, 422, field)
          for field in ("work_seconds", "short_break_seconds", "long_break_seconds") for value in (0, -1, 86401)],
        ("PATCH", CONFIGURATION, {"work_seconds": 10**30}, 422, "work_seconds"),
        *[("PATCH", CONFIGURATION, {"long_break_interval": value}, 422, "long_break_interval") for value in (0, 13)],
        # one bad field spoils the whole change
        ("PATCH", CONFIGURATION, {"work_seconds": 60, "long_break_interval": 13}, 422, "long_break_interval"),
    ],
    "not a time zone": [
        ("PATCH", CONFIGURATION, {"timezone": value}, 422, "timezone")
        for value in ("Mars/Olympus_Mons", "", "utc+2", "../../etc/passwd", "Europe/" + "x" * 100,
                      "Europe/Paris" + NUL, SURROGATE)
    ],
    "unknown fields": [
        ("PATCH", CONFIGURATION, {"colour": "red"}, 422, "colour"),
        ("PATCH", CONFIGURATION, {"id": "someone-else"}, 422, "id"),
        ("POST", "/users", {**SIGN_UP, "is_admin": True}, 422, "is_admin"),
        ("POST", "/auth/token", {**CREDENTIALS, "remember": True}, 422, "remember"),
        ("POST", "/cycles", {"long_break_interval": 2}, 422, "long_break_interval"),
        ("POST", "/sessions", {"duration_seconds": 5}, 422, "duration_seconds"),
        ("PATCH", STATUS, {"status": "paused", "ends_at": "2030-01-01T00:00:00Z"}, 422, "ends_at"),
    ],
    "unknown status": [
        *[("PATCH", STATUS, {"status": value}, 422, "status") for value in ("done", "RUNNING", "", None, 1)],
        ("PATCH", STATUS, {}, 422, "status"),
    ],
    "bad session fields": [
        *[("POST", "/sessions", {"type": value}, 422, "type") for value in ("nap", "Work", "", 5)],
        *[("POST", "/sessions", {"cycle_id": value}, 422, "cycle_id") for value in (5, ["x"], "x" * 65, NUL)],
    ],
    "bad sign-up fields": [
        *[("POST", "/users", {**SIGN_UP, "email": value}, 422, "email")
          for value in ("not-an-e-mail", "", 5, None, "x" * 250 + "@example.org", f"a{NUL}@example.org",
                        f"{SURROGATE}@example.org")],
        *[("POST", "/users", {**SIGN_UP, "password": value}, 422, "password")
          for value in ("short", "", 12345678, None, "x" * 257, "correct" + NUL + "horse", SURROGATE * 8)],
        *[("POST", "/users", {**SIGN_UP, "name": value}, 422, "name") for value in ("x" * 101, 5, NUL, SURROGATE)],
        ("POST", "/users", {"email": "new@example.org"}, 422, "password"),
        ("POST", "/users", {"password": "correct horse"}, 422, "email"),
    ],
    "bad log-in fields": [
        ("POST", "/auth/token", {"email": "ada@example.org"}, 422, "password"),
        *[("POST", "/auth/token", {**CREDENTIALS, "email": value}, 422, "email")
          for value in (5, None, f"ada{NUL}@example.org", SURROGATE)],
        ("POST", "/auth/token", {**CREDENTIALS, "password": SURROGATE}, 422, "password"),
    ],
    "bad paging": [
        ("GET", f"/cycles?{query}", None, 422, query.split("=")[0])
        for query in ("page=0", "page=-1", "page=abc", "page=1.5", "page=99999999999999999999",
                      "per_page=0", "per_page=101", "per_page=")
    ],
    "too large": [
        (method, path, TOO_LARGE, 413, None) for method, path in [
            ("POST", "/users"), ("POST", "/auth/token"), ("PATCH", CONFIGURATION),
            ("POST", "/sessions"), ("PATCH", STATUS)]
    ],
    # -- hardening (issue 11) --
    "time-zone names that lead to no zone file": [
        ("PATCH", CONFIGURATION, {"timezone": value}, 422, "timezone")
        for value in ("Europe", "America", "Etc", "__pycache__", "Europe/__pycache__", "A" * 64, "iso3166.tab",
                      "tzdata.zi", "leapseconds", "Europe//Paris", ".", "..", "localtime", "Europe/Paris/")
    ],
    "integers of thousands of digits": [
        *[(method, path, '{"email": %s, "password": "correct horse"}' % HUGE_INTEGER, 400, None)
          for method, path in [("POST", "/users"), ("POST", "/auth/token")]],
        ("POST", "/users", '{"email": "new@example.org", "password": "correct horse", "name": -%s}' % HUGE_INTEGER, 400, None),
        ("PATCH", CONFIGURATION, '{"work_seconds": %s}' % HUGE_INTEGER, 400, None),
        ("POST", "/sessions", '{"type": [%s]}' % HUGE_INTEGER, 400, None),
        ("PATCH", STATUS, '{"status": %s}' % HUGE_INTEGER, 400, None),
    ],
}


def send(client, method, path, body, headers, content_type="application/json"):
    """A dict or list goes as JSON; a str or bytes as the raw body."""
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    if isinstance(body, bytes):
        return client.open(path, method=method, data=body, content_type=content_type, headers=headers)
    return client.open(path, method=method, json=body, headers=headers)


def what_is_wrong(response, status, field) -> str | None:
    try:
        error = assert_error(response, status)
        if status == 422:
            assert error["code"] == "invalid", error
            assert field in error["fields"], error
            assert all(isinstance(problem, str) for problems in error["fields"].values() for problem in problems)
        else:
            assert "fields" not in error, error
    except AssertionError as failure:
        return f"{response.status_code}: {failure}"[:300]
    return None


@pytest.fixture
def ada(client, app, auth):
    """Someone with a running session, whose records bad requests must leave alone."""
    api = Api(client, auth.sign_up("ada@example.org"))
    session = api.start()
    return api, {"me": api.who.id, "cycle": session["cycle_id"], "session": session["id"]}


def wrongly_answered(client, app, requests, ids, headers) -> list[str]:
    """What each of `requests` (method, path, body, status, field) got wrong:
    the answer, or a change to stored data."""
    wrong = []
    for method, path, body, status, field in requests:
        before = stored_rows(app)
        response = send(client, method, path.format(**ids), body, headers)
        problem = what_is_wrong(response, status, field)
        if stored_rows(app) != before:
            problem = f"{problem or ''} and it changed stored data"
        if problem:
            wrong.append(f"{method} {path} {body!r:.60}: {problem}")
    return wrong


@pytest.mark.parametrize("kind", BAD_REQUESTS)
def test_bad_input_is_refused_and_changes_nothing(client, app, ada, kind):
    api, ids = ada
    assert wrongly_answered(client, app, BAD_REQUESTS[kind], ids, api.who.headers) == []


def test_a_body_that_is_not_sent_as_json_is_refused_not_ignored(client, app, ada):
    api, ids = ada
    before = stored_rows(app)
    body = '{"work_seconds": 60, "status": "cancelled", "email": "ada@example.org", "password": "correct horse"}'
    for method, path in [("POST", "/users"), ("POST", "/auth/token"), ("PATCH", CONFIGURATION),
                         ("POST", "/sessions"), ("PATCH", STATUS)]:
        for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
            response = send(client, method, path.format(**ids), body, api.who.headers, content_type)
            assert_error(response, 415, "unsupported_media_type")
    assert stored_rows(app) == before


NOT_IDS = ["nope", "0", "x" * 3000, "üñíçødé", "日本語", "🍅", "%00", "abc%00def", "' OR '1'='1", "%FF%FE", "a%20b"]
ID_ENDPOINTS = [
    ("GET", "/users/{}", None),
    ("PATCH", "/users/{}/configuration", {"work_seconds": 60}),
    ("GET", "/cycles/{}", None),
    ("GET", "/cycles/{}/sessions", None),
    ("GET", "/sessions/{}", None),
    ("PATCH", "/sessions/{}/stop", None),
    ("PATCH", "/sessions/{}/resume", None),
    ("PATCH", "/sessions/{}/status", {"status": "cancelled"}),
]


def assert_not_ids_are_not_found(client, app, endpoints, headers):
    before = stored_rows(app)
    for method, path, body in endpoints:
        for not_an_id in NOT_IDS:
            response = client.open(path.format(not_an_id), method=method, json=body, headers=headers)
            assert_error(response, 404, "not_found")
    assert stored_rows(app) == before


def test_what_is_not_an_id_is_not_found(client, app, ada):
    api, _ids = ada
    assert_not_ids_are_not_found(client, app, ID_ENDPOINTS, api.who.headers)


def test_a_cycle_id_that_is_not_an_id_is_not_found(client, app, ada):
    api, _ids = ada
    api.patch(f"/sessions/{_ids['session']}/status", {"status": "cancelled"})
    before = stored_rows(app)
    for not_an_id in ["nope", "üñíçødé", "🍅", "' OR '1'='1", "x" * 64]:
        assert_error(api.post("/sessions", {"cycle_id": not_an_id}), 404, "not_found")
    assert stored_rows(app) == before


def test_an_unknown_url_is_a_json_404(client, app, ada):
    api, ids = ada
    for path in ["/nope", "/api/users", "/users/me/password", f"/sessions/{ids['session']}/pause",
                 f"/cycles/{ids['cycle']}/sessions/1", "/sessions/current/" + "x" * 2000]:
        response = client.get(path, headers={**api.who.headers, "Accept": "application/json"})
        assert_error(response, 404, "not_found")
        assert_error(client.get(path), 404, "not_found")  # no Accept header: still JSON


def test_a_wrong_method_is_a_json_405_that_says_what_is_allowed(client, app, ada):
    api, ids = ada
    before = stored_rows(app)
    for method, path in [("DELETE", "/users/me"), ("PUT", "/users/{me}"), ("POST", "/users/{me}/configuration"),
                         ("GET", "/auth/token"), ("PATCH", "/cycles"), ("DELETE", "/cycles/{cycle}"),
                         ("PUT", "/sessions/{session}"), ("DELETE", "/sessions/{session}"),
                         ("POST", "/sessions/current"), ("GET", "/sessions/{session}/stop"),
                         ("POST", "/sessions/{session}/status"), ("GET", "/users")]:
        response = client.open(path.format(**ids), method=method, json={}, headers=api.who.headers)
        assert_error(response, 405, "method_not_allowed")
        assert response.headers["Allow"], (method, path)
        assert method not in response.headers["Allow"].split(", ")
    assert stored_rows(app) == before


def test_the_current_session_offers_only_its_own_methods(client, ada):
    """`/sessions/current` is not a session id: what it allows is GET alone,
    not also the PATCH of `/sessions/<id>`."""
    api, _ids = ada
    for method in ("OPTIONS", "PATCH"):
        response = client.open("/sessions/current", method=method, json={}, headers=api.who.headers)
        assert sorted(response.headers["Allow"].split(", ")) == ["GET", "HEAD", "OPTIONS"], method
    assert_error(client.patch("/sessions/current", json={"note": "n"}, headers=api.who.headers), 405, "method_not_allowed")


def test_an_e_mail_is_taken_in_any_letter_case(client, app):
    first = client.post("/users", json={"email": "Ada.Lovelace@Example.org", "password": "correct horse"})
    assert first.status_code == 201
    before = stored_rows(app)
    for email in ["Ada.Lovelace@Example.org", "ada.lovelace@example.org", "ADA.LOVELACE@EXAMPLE.ORG",
                  "ada.LOVELACE@example.ORG"]:
        response = client.post("/users", json={"email": email, "password": "another horse", "name": "Imposter"})
        assert_error(response, 409, "conflict")
    assert stored_rows(app) == before
