"""The export (CSV and JSON, streamed) and the calendar feed."""
import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from pomodoro import rules
from pomodoro.export import safe_cell

from .reports_data import add_sessions, utc


def seed(db, account, sessions, **kinds):
    ids = add_sessions(db.session, account.id, sessions, **kinds)
    db.session.commit()
    return ids


def read_csv(response) -> list[dict]:
    text = response.get_data().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


# -- export --------------------------------------------------------------------------------

def test_csv_export_has_a_header_utc_and_local_times_and_every_session(client, auth, db):
    account = auth.sign_up(timezone="Europe/Berlin")
    seed(db, account, [(utc("2026-07-01T08:00:00Z"), 1500), (utc("2026-07-02T08:00:00Z"), 600, 1500)])
    seed(db, account, [(utc("2026-07-01T08:25:00Z"), 100, 300)], session_type=rules.SHORT_BREAK, status=rules.CANCELLED)
    response = client.get("/export/sessions.csv", headers=account.headers)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.is_streamed
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    assert b"\r\n" in body
    rows = read_csv(response)
    assert [(row["type"], row["status"], row["focused_seconds"]) for row in rows] == [
        ("work", "completed", "1500.0"), ("short_break", "cancelled", "100.0"), ("work", "completed", "600.0")]
    assert rows[0]["started_at"] == "2026-07-01T08:00:00.000Z"
    assert rows[0]["started_at_local"] == "2026-07-01T10:00:00+02:00"
    assert rows[0]["ended_at"] == "2026-07-01T08:25:00.000Z"


def test_export_range_is_local_days_and_json_matches(client, auth, db):
    account = auth.sign_up(timezone="America/New_York")
    seed(db, account, [(utc("2026-07-01T03:00:00Z"), 60),   # 23:00 on 30 June in New York
                       (utc("2026-07-01T05:00:00Z"), 60)])  # 01:00 on 1 July
    response = client.get("/export/sessions.json", query_string={"from": "2026-07-01", "to": "2026-07-01"},
                          headers=account.headers)
    assert response.status_code == 200 and response.is_streamed
    body = json.loads(response.get_data())
    assert body["timezone"] == "America/New_York"
    assert [item["started_at"] for item in body["items"]] == ["2026-07-01T05:00:00.000Z"]
    assert body["items"][0]["started_at_local"] == "2026-07-01T01:00:00-04:00"
    rows = read_csv(client.get("/export/sessions.csv", query_string={"to": "2026-06-30"}, headers=account.headers))
    assert [row["started_at"] for row in rows] == ["2026-07-01T03:00:00.000Z"]


def test_empty_json_export_is_valid_json(client, auth):
    account = auth.sign_up()
    body = json.loads(client.get("/export/sessions.json", headers=account.headers).get_data())
    assert body["items"] == []


def test_a_large_export_streams_every_row(client, auth, db):
    account = auth.sign_up()
    start = utc("2026-01-01T00:00:00Z")
    seed(db, account, [(start + timedelta(minutes=30 * n), 1500) for n in range(1234)])
    response = client.get("/export/sessions.csv", headers=account.headers)
    chunks = list(response.response)
    assert len(chunks) > 2  # written a chunk of rows at a time
    text = b"".join(chunks).decode("utf-8-sig")
    assert len(list(csv.DictReader(io.StringIO(text, newline="")))) == 1234
    assert len(json.loads(client.get("/export/sessions.json", headers=account.headers).get_data())["items"]) == 1234


@pytest.mark.parametrize("text, shown", [
    ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"), ("+1+1", "'+1+1"), ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("plain, \"quoted\"", "plain, \"quoted\""),
])
def test_a_cell_that_would_be_a_formula_is_shown_as_text(text, shown):
    assert safe_cell(text) == shown


@pytest.mark.parametrize("query", [{"from": "2026-02-03", "to": "2026-02-02"}, {"from": "nope"},
                                   {"from": "2000-01-01", "to": "2020-01-01"}, {"from": "0001-01-01"},
                                   {"to": "9999-12-31"}])
def test_export_refuses_a_bad_range(client, auth, query):
    account = auth.sign_up()
    for kind in ("csv", "json"):
        response = client.get(f"/export/sessions.{kind}", query_string=query, headers=account.headers)
        assert response.status_code == 422
        assert response.json["error"]["fields"]


def test_export_needs_a_user(client):
    assert client.get("/export/sessions.csv").status_code == 401


def test_export_never_shows_another_users_sessions(client, auth, db):
    mine, theirs = auth.sign_up(), auth.sign_up()
    seed(db, theirs, [(utc("2026-07-01T08:00:00Z"), 60)])
    assert read_csv(client.get("/export/sessions.csv", headers=mine.headers)) == []


# -- calendar feed ---------------------------------------------------------------------------

def feed_url(client, account) -> str:
    response = client.post(f"/users/{account.id}/calendar-token", headers=account.headers)
    assert response.status_code == 201
    return response.json["url"]


def path_of(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[1].join(["/", ""])


def test_feed_lists_completed_focus_sessions_as_utc_events(client, auth, db):
    account = auth.sign_up()
    now = datetime.now(UTC).replace(microsecond=0)
    done, early = seed(db, account, [(now - timedelta(days=1), 1500), (now - timedelta(days=2), 600, 1500)])
    seed(db, account, [(now - timedelta(days=3), 300)], session_type=rules.SHORT_BREAK)
    seed(db, account, [(now - timedelta(days=4), 300, 1500)], status=rules.CANCELLED)
    seed(db, account, [(now - timedelta(days=120), 1500)])  # past the default 90 days
    url = feed_url(client, account)
    assert url.startswith("http") and url.endswith(".ics")

    response = client.get(path_of(url))  # no token, no cookie: the secret is the credential
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    events = Calendar.from_ical(response.data).walk("VEVENT")
    assert sorted(str(event["uid"]) for event in events) == sorted([f"{done}@pomodoro", f"{early}@pomodoro"])
    by_uid = {str(event["uid"]): event for event in events}
    assert by_uid[f"{done}@pomodoro"].decoded("dtstart") == now - timedelta(days=1)
    assert by_uid[f"{done}@pomodoro"].decoded("dtend") == now - timedelta(days=1) + timedelta(seconds=1500)
    assert by_uid[f"{early}@pomodoro"].decoded("dtstart").tzinfo is not None
    assert str(by_uid[f"{done}@pomodoro"]["summary"]) == "Focus"

    wide = Calendar.from_ical(client.get(path_of(url), query_string={"days": 400}).data).walk("VEVENT")
    assert len(wide) == 3


@pytest.mark.parametrize("days", ["0", "401", "x"])
def test_feed_refuses_a_bad_number_of_days(client, auth, days):
    url = feed_url(client, auth.sign_up())
    assert client.get(path_of(url), query_string={"days": days}).status_code == 422


def test_a_rotated_or_revoked_secret_is_a_404(client, auth):
    account = auth.sign_up()
    first = feed_url(client, account)
    second = feed_url(client, account)
    assert first != second
    assert client.get(path_of(first)).status_code == 404
    assert client.get(path_of(second)).status_code == 200
    assert client.delete(f"/users/{account.id}/calendar-token", headers=account.headers).status_code == 204
    assert client.get(path_of(second)).status_code == 404
    assert client.get("/calendar/not-a-secret.ics").status_code == 404


def test_a_users_secret_never_shows_another_users_sessions(client, auth, db):
    mine, theirs = auth.sign_up(), auth.sign_up()
    now = datetime.now(UTC)
    (their_session,) = seed(db, theirs, [(now - timedelta(days=1), 1500)])
    (my_session,) = seed(db, mine, [(now - timedelta(days=1), 1500)])
    events = Calendar.from_ical(client.get(path_of(feed_url(client, mine))).data).walk("VEVENT")
    assert [str(event["uid"]) for event in events] == [f"{my_session}@pomodoro"]


def test_the_secret_is_stored_hashed(client, auth, db):
    from pomodoro.models import User

    account = auth.sign_up()
    secret = feed_url(client, account).rsplit("/", 1)[1].removesuffix(".ics")
    stored = db.session.get(User, account.id).calendar_secret_hash
    assert stored and secret not in stored and len(secret) >= 40


def test_calendar_token_is_only_for_ones_own_account(client, auth):
    mine, theirs = auth.sign_up(), auth.sign_up()
    assert client.post(f"/users/{theirs.id}/calendar-token", headers=mine.headers).status_code == 404
    assert client.delete(f"/users/{theirs.id}/calendar-token", headers=mine.headers).status_code == 404
    assert client.post(f"/users/{mine.id}/calendar-token").status_code == 401
    assert client.get(f"/users/{mine.id}/calendar-token", headers=mine.headers).status_code == 405


def test_export_carries_task_tags_note_and_interruptions_and_no_formula(client, auth, db):
    account = auth.sign_up()
    task = client.post("/tasks", json={"title": "=HYPERLINK(\"http://x\",\"y\")", "tags": ["@work", "déjà vu"]},
                       headers=account.headers).json["id"]
    seed(db, account, [(utc("2026-07-01T08:00:00Z"), 1500)], task_id=task, note="-2+3, \"quoted\"\nsecond line",
         interruptions_internal=1, interruptions_external=2)
    (row,) = read_csv(client.get("/export/sessions.csv", headers=account.headers))
    assert row["task"] == "'=HYPERLINK(\"http://x\",\"y\")"
    assert row["tags"] == "'@work; déjà vu"
    assert row["note"] == "'-2+3, \"quoted\"\nsecond line"
    assert (row["interruptions_internal"], row["interruptions_external"]) == ("1", "2")
    (item,) = json.loads(client.get("/export/sessions.json", headers=account.headers).get_data())["items"]
    assert item["task"] == "=HYPERLINK(\"http://x\",\"y\")" and item["tags"] == ["@work", "déjà vu"]  # JSON is data, not cells


def test_feed_events_take_the_task_title_and_the_note(client, auth, db):
    account = auth.sign_up()
    task = client.post("/tasks", json={"title": "Write the essay"}, headers=account.headers).json["id"]
    now = datetime.now(UTC).replace(microsecond=0)
    seed(db, account, [(now - timedelta(hours=3), 1500)], task_id=task, note="Drafted; section 2, too")
    (event,) = Calendar.from_ical(client.get(path_of(feed_url(client, account))).data).walk("VEVENT")
    assert str(event["summary"]) == "Write the essay"
    assert str(event["description"]) == "Drafted; section 2, too"


def test_guessing_feed_secrets_is_rate_limited(client):
    answers = [client.get(f"/calendar/guess{number}.ics").status_code for number in range(121)]
    assert set(answers[:120]) == {404} and answers[120] == 429


def test_exports_are_limited_per_user_in_both_formats_together(client, auth):
    account, other = auth.sign_up(), auth.sign_up()
    answers = [client.get(f"/export/sessions.{kind}", headers=account.headers).status_code
               for kind in ["csv", "json"] * 10 + ["csv"]]
    assert set(answers[:20]) == {200} and answers[20] == 429
    assert client.get("/export/sessions.json", headers=account.headers).json["error"]["code"] == "rate_limited"
    assert client.get("/export/sessions.csv", headers=other.headers).status_code == 200
