"""A database that cannot be reached is a clear, retryable 503, for the API
and for the pages alike, never a 500 or a traceback."""
from pomodoro import create_app

from .conftest import config
from .live import free_port, session_cookie


def unreachable_app():
    closed_port = free_port()  # nothing listens there
    return create_app(config(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/pomodoro"))


def test_the_api_answers_503_with_retry_after_when_the_database_is_down():
    client = unreachable_app().test_client()
    response = client.get("/sessions/current", headers={"Authorization": "Bearer " + "x" * 43})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json["error"]["code"] == "unavailable"
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_page_says_so_in_html_when_the_database_is_down():
    app = unreachable_app()
    client = app.test_client()
    client.set_cookie("session", session_cookie(app.secret_key, "a" * 32))
    response = client.get("/", headers={"Accept": "text/html"})
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert "briefly unavailable" in response.get_data(as_text=True)
