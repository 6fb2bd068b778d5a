"""Security headers on every kind of response, a Content-Security-Policy the
pages satisfy in a real browser, and the flags on the sign-in cookies."""
import os
import re

import pytest

from .browser import PASSWORD, email, expect, go, new_context, sign_up
from .helpers import PASSWORD as FORM_PASSWORD
from .helpers import Person

PAGES_POLICY = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "connect-src": {"'self'", "ws://localhost", "wss://localhost"},
    "object-src": {"'none'"},
    "base-uri": {"'self'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}
# Swagger UI draws its icons from data: URLs.
DOCS_POLICY = {**PAGES_POLICY, "img-src": {"'self'", "data:"}}


def policy(response) -> dict[str, set[str]]:
    header = response.headers["Content-Security-Policy"]
    return {name: set(sources) for name, *sources in (part.split() for part in header.split(";") if part.strip())}


RESPONSES = {
    "page": (lambda client, auth: client.get("/login"), PAGES_POLICY),
    "htmx fragment": (lambda client, auth: client.get("/login", headers={"HX-Request": "true"}), PAGES_POLICY),
    "JSON API": (lambda client, auth: client.get("/users/me", headers=auth.sign_up().headers), PAGES_POLICY),
    "JSON error": (lambda client, auth: client.get("/sessions/current"), PAGES_POLICY),
    "OpenAPI document": (lambda client, auth: client.get("/openapi.json"), PAGES_POLICY),
    "static file": (lambda client, auth: client.get("/static/app.js"), PAGES_POLICY),
    "error page": (lambda client, auth: client.get("/no-such-page", headers={"Accept": "text/html"}), PAGES_POLICY),
    "API docs": (lambda client, auth: client.get("/docs"), DOCS_POLICY),
}


@pytest.mark.parametrize("kind", RESPONSES)
def test_every_kind_of_response_carries_the_security_headers(client, auth, kind):
    send, expected_policy = RESPONSES[kind]
    response = send(client, auth)
    response.close()
    assert response.status_code in (200, 401, 404)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert policy(response) == expected_policy


def test_a_host_header_that_is_not_a_host_stays_out_of_the_policy(client):
    response = client.get("/login", headers={"Host": "evil.example;script-src *"})
    assert policy(response)["connect-src"] == {"'self'"}
    assert policy(response)["script-src"] == {"'self'"}


# -- cookies ------------------------------------------------------------------------

@pytest.fixture
def app_config(request, monkeypatch):
    """SECURE_COOKIES is read from the environment when the app is made."""
    monkeypatch.setenv("SECURE_COOKIES", "1" if getattr(request, "param", False) else "0")
    return {}


def set_cookies(response) -> dict[str, set[str]]:
    """Each cookie the response sets, by name, with its attributes in lower case."""
    cookies = {}
    for header in response.headers.getlist("Set-Cookie"):
        name_value, *attributes = header.split(";")
        cookies[name_value.split("=", 1)[0]] = {attribute.strip().lower() for attribute in attributes}
    return cookies


@pytest.mark.parametrize("app_config", [False, True], ids=["SECURE_COOKIES=0", "SECURE_COOKIES=1"], indirect=True)
def test_the_sign_in_cookies_are_http_only_same_site_lax_and_secure_when_asked(client):
    secure = os.environ["SECURE_COOKIES"] == "1"
    person = Person(client)
    signed_up = set_cookies(person.sign_up())
    person.post("/logout")
    logged_in = set_cookies(person.post("/login", {"email": "ada@example.org", "password": FORM_PASSWORD,
                                                   "remember": "on"}))
    for cookie in (signed_up["session"], logged_in["session"], logged_in["remember_token"]):
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert ("secure" in cookie) is secure


# -- in a real browser --------------------------------------------------------------

RECORD_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  const seen = JSON.parse(sessionStorage.getItem("csp-violations") || "[]");
  seen.push(`${location.pathname}: ${event.effectiveDirective} refused ${event.blockedURI || "inline"}`
            + ` at ${event.sourceFile}:${event.lineNumber}`);
  sessionStorage.setItem("csp-violations", JSON.stringify(seen));
}, true);
"""


def watched(browser, server):
    """A page that keeps every CSP violation (across navigations in its tab) and
    every console error about the policy."""
    context = new_context(browser, server)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    console = []
    page.on("console", lambda message: refused_by_policy(message) and console.append(message.text))
    return page, console


def refused_by_policy(message) -> bool:
    return message.type == "error" and "Content Security Policy" in message.text


def violations(page) -> list[str]:
    return page.evaluate("JSON.parse(sessionStorage.getItem('csp-violations') || '[]')")


def test_every_page_works_under_the_policy_without_a_violation(browser, server):
    page, console = watched(browser, server)
    response = page.goto("/signup")
    assert "script-src 'self';" in response.headers["content-security-policy"]
    sign_up(page, address := email("csp"))

    page.get_by_role("button", name="Start focus").click()
    expect(page.locator("#timer")).to_have_attribute("data-status", "running")
    expect(page.locator("#live")).to_have_attribute("data-state", "on")  # the socket is allowed
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^24:5\d$"))

    go(page, "Settings")
    page.get_by_label("Short break").fill("6")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()

    go(page, "History")
    expect(page.locator(".session-row")).to_have_count(1)

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Welcome back")).to_be_visible()
    page.get_by_label("E-mail").fill(address)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#timer")).to_have_attribute("data-status", "running")
    expect(page.locator("#live")).to_have_attribute("data-state", "on")

    page.goto("/no-such-page")
    expect(page.locator(".error-status")).to_have_text("404")

    page.goto("/docs")
    expect(page.locator(".opblock-summary-path", has_text="/sessions/current")).to_be_visible()
    page.locator(".opblock-summary", has_text="/sessions/current").click()
    expect(page.get_by_role("button", name="Try it out")).to_be_visible()
    expect(page.locator(".models")).to_be_visible()

    assert violations(page) == []
    assert console == []
    page.context.close()


def test_the_pages_refuse_an_injected_inline_script_and_style(browser, server):
    page, console = watched(browser, server)
    page.goto("/login")
    with page.expect_console_message(refused_by_policy):
        page.evaluate("""() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.append(script);
            document.querySelector("h1").setAttribute("style", "color: red");
        }""")
    page.wait_for_function("JSON.parse(sessionStorage.getItem('csp-violations') || '[]').length >= 2")
    assert page.evaluate("window.injected") is None
    assert [entry.split(" ")[1] for entry in violations(page)] == ["script-src-elem", "style-src-attr"]
    expect(page.locator("h1")).not_to_have_css("color", "rgb(255, 0, 0)")
    assert console
    page.context.close()
