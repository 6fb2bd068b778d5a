"""Fuzzing what schemathesis cannot reach: every page form (signed in and
not) and the WebSocket handshake. Whatever is sent, the answer is never a 5xx."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .stacks import embedded_stack
from .test_hardening_live import GOOD, raw_request
from .test_pages import Person

FIELDS = ["email", "password", "name", "remember", "timezone", "session_id", "work_minutes",
          "short_break_minutes", "long_break_minutes", "long_break_interval", "auto_start_breaks",
          "auto_start_work", "current_password", "new_password", "csrf_token"]
TEXT = st.one_of(
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=40),
    st.sampled_from(["", "0", "-1", "1e400", "9" * 5000, "NaN", "0:60", "99999:00", "Europe", "ada@example.org",
                     "\x00", "Europe/Paris", "on", "x" * 300, "\u212a@example.org", "' OR 1=1 --"]),
)
FORMS = st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)), TEXT, max_size=8)
NOT_FUZZED = {"pages.logout", "pages.logout_everywhere"}  # they end the session the fuzzing runs in
FUZZ = settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def page_forms(app) -> list[str]:
    return sorted({rule.rule for rule in app.url_map.iter_rules()
                   if rule.endpoint.startswith("pages.") and "POST" in rule.methods
                   and rule.endpoint not in NOT_FUZZED and not rule.arguments})


def test_no_page_form_answers_a_5xx_to_anything(app):
    signed_in = Person(app.test_client())
    signed_in.sign_up()
    signed_in.get("/")
    forms = page_forms(app)
    assert {"/login", "/signup", "/settings", "/sessions/start"} <= set(forms)
    for path in forms:
        @given(form=FORMS, htmx=st.booleans(), raw=st.one_of(st.none(), st.binary(max_size=64)))
        @FUZZ
        def one(form, htmx, raw):
            form = {**form, "csrf_token": form.get("csrf_token", signed_in.token)}
            headers = {"HX-Request": "true"} if htmx else {}
            if raw is not None:  # bytes as they come, not even UTF-8
                response = signed_in.client.post(path, data=raw, headers=headers,
                                                 content_type="application/x-www-form-urlencoded")
            else:
                response = signed_in.client.post(path, data=form, headers=headers)
            assert response.status_code < 500, (path, form, response.status_code)

        one()


HEADER_NAMES = ["Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Origin",
                "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol", "Cookie"]
HEADER_VALUES = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=40),
    st.sampled_from(["websocket", "Upgrade", "upgrade, keep-alive", "13", "8", "", "dGhlIHNhbXBsZSBub25jZQ==",
                     "permessage-deflate; client_max_window_bits", "session=nope", "x" * 4000]),
)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    with embedded_stack(tmp_path_factory.mktemp("fuzz")) as running:
        yield running


def test_no_handshake_gets_a_5xx(embedded):
    token = embedded.user().token

    @given(changes=st.dictionaries(st.sampled_from(HEADER_NAMES), st.one_of(st.none(), HEADER_VALUES)),
           path=st.sampled_from(["/ws", "/"]), with_token=st.booleans())
    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def one(changes, path, with_token):
        headers = {name: value for name, value in {**GOOD, **changes}.items() if value is not None}
        status, _headers, body = raw_request(embedded, path + (f"?token={token}" if with_token else ""), headers)
        assert status < 500, (headers, status, body[:200])

    one()
