"""The /tasks rows, the session's task, note, extension and interruptions, and
the rules behind them, as an API client meets them (on SQLite and PostgreSQL)."""
from datetime import timedelta

import pytest
from sqlalchemy import update

from pomodoro.extensions import db
from pomodoro.models import Session, Task

from .test_api import MS, Api, assert_error, at, person, stored_rows


class Planner(Api):
    def delete(self, path):
        return self.client.delete(path, headers=self.who.headers)

    def add(self, title="Write the report", **fields) -> dict:
        response = self.post("/tasks", {"title": title, **fields})
        assert response.status_code == 201, response.json
        return response.json

    def task(self, task_id) -> dict:
        response = self.get(f"/tasks/{task_id}")
        assert response.status_code == 200, response.json
        return response.json

    def change(self, task_id, **changes) -> dict:
        response = self.patch(f"/tasks/{task_id}", changes)
        assert response.status_code == 200, response.json
        return response.json

    def tasks(self, state=None) -> dict:
        response = self.get("/tasks" + (f"?state={state}" if state else ""))
        assert response.status_code == 200, response.json
        return response.json

    def titles(self, state=None) -> list:
        return [task["title"] for task in self.tasks(state)["items"]]

    def active(self) -> list:
        return [task["title"] for task in self.tasks("all")["items"] if task["active"]]


@pytest.fixture
def ada(client, app):
    return Planner(client, person(app, auto_start_breaks=False))


def finish(ada, session_id):
    return ada.set_status(session_id, "completed")


def backdate(app, session_id, seconds):
    """Make a running session look as if it started `seconds` earlier."""
    with app.app_context():
        session = db.session.get(Session, session_id)
        session.started_at -= timedelta(seconds=seconds)
        session.ends_at -= timedelta(seconds=seconds)
        db.session.commit()


# -- the task record -----------------------------------------------------------------

def test_a_new_task_has_the_contracts_fields_and_goes_to_the_end_of_the_list(ada):
    first = ada.add("Plan", notes="the quarter", tags=["work", "Q3"], estimated_pomodoros=3)
    second = ada.add("Email")
    assert set(first) == {"id", "title", "notes", "tags", "estimated_pomodoros", "completed_pomodoros",
                          "focused_seconds", "done", "done_at", "active", "position", "created_at", "updated_at"}
    assert (first["notes"], first["tags"], first["estimated_pomodoros"]) == ("the quarter", ["work", "Q3"], 3)
    assert (second["notes"], second["tags"], second["estimated_pomodoros"]) == ("", [], 0)
    assert (first["completed_pomodoros"], first["focused_seconds"], first["done"], first["active"]) == (0, 0, False, False)
    assert second["position"] > first["position"]
    assert ada.titles() == ["Plan", "Email"]
    assert ada.task(first["id"]) == {**first, "updated_at": ada.task(first["id"])["updated_at"]}


def test_a_title_is_trimmed(ada):
    assert ada.add("  Read  ")["title"] == "Read"


def test_tags_are_trimmed_and_one_repeated_in_another_case_is_kept_once(ada):
    task = ada.add("Plan", tags=[" Work ", "home", "work", "WORK", "Home "])
    assert task["tags"] == ["Work", "home"]
    assert ada.change(task["id"], tags=["a", "A", "b"])["tags"] == ["a", "b"]


def test_any_field_can_be_changed(ada):
    task = ada.add("Draft")
    changed = ada.change(task["id"], title="Final", notes="n", tags=["a"], estimated_pomodoros=5)
    assert (changed["title"], changed["notes"], changed["tags"], changed["estimated_pomodoros"]) == ("Final", "n", ["a"], 5)
    assert at(changed["updated_at"]) >= at(task["updated_at"])


def test_done_tasks_leave_the_open_list_and_can_be_reopened_in_their_place(ada):
    one, two, three = ada.add("one"), ada.add("two"), ada.add("three")
    done = ada.change(two["id"], done=True)
    assert done["done"] and done["done_at"]
    assert ada.titles() == ["one", "three"]
    assert ada.titles("done") == ["two"]
    assert ada.titles("all") == ["one", "two", "three"]
    reopened = ada.change(two["id"], done=False)
    assert (reopened["done"], reopened["done_at"]) == (False, None)
    assert ada.titles() == ["one", "two", "three"]


def test_position_moves_a_task_and_the_others_make_room(ada):
    for title in "abcde":
        ada.add(title)
    ids = {task["title"]: task["id"] for task in ada.tasks()["items"]}
    ada.change(ids["d"], position=1)
    assert ada.titles() == list("dabce")
    ada.change(ids["d"], position=3)
    assert ada.titles() == list("abdce")
    ada.change(ids["a"], position=99)
    assert ada.titles() == list("bdcea")
    assert [task["position"] for task in ada.tasks()["items"]] == [1, 2, 3, 4, 5]


def test_deleting_a_task_keeps_its_sessions_as_no_task(ada, app):
    task = ada.add("Gone soon", active=True)
    session = ada.start()
    assert session["task_id"] == task["id"]
    assert ada.delete(f"/tasks/{task['id']}").status_code == 204
    assert_error(ada.get(f"/tasks/{task['id']}"), 404, "not_found")
    kept = ada.session(session["id"])
    assert kept["status"] == "running" and kept["task_id"] is None


# -- the active task -----------------------------------------------------------------

def test_one_task_is_active_at_a_time(ada):
    first = ada.add("first", active=True)
    assert ada.active() == ["first"]
    second = ada.add("second", active=True)
    assert ada.active() == ["second"]
    ada.change(first["id"], active=True)
    assert ada.active() == ["first"]
    ada.change(first["id"], active=False)
    assert ada.active() == []
    assert ada.task(second["id"])["active"] is False


def test_when_the_active_task_is_done_the_next_open_one_below_takes_over(ada):
    one, two, three, four = (ada.add(title) for title in ("one", "two", "three", "four"))
    ada.change(three["id"], done=True)
    ada.change(two["id"], active=True)
    ada.change(two["id"], done=True)
    assert ada.active() == ["four"], "the done task below is passed over"
    ada.change(four["id"], done=True)
    assert ada.active() == ["one"], "with none below, the nearest open one above"
    ada.change(one["id"], done=True)
    assert ada.active() == []


def test_deleting_the_active_task_hands_over_like_finishing_it(ada):
    one, two = ada.add("one", active=True), ada.add("two")
    ada.delete(f"/tasks/{one['id']}")
    assert ada.active() == ["two"]


def test_a_done_task_cannot_be_made_active(ada, app):
    task = ada.add("done already")
    ada.change(task["id"], done=True)
    before = stored_rows(app)
    assert_error(ada.patch(f"/tasks/{task['id']}", {"active": True}), 409, "conflict")
    assert_error(ada.patch(f"/tasks/{task['id']}", {"done": True, "active": True}), 409, "conflict")
    assert stored_rows(app) == before


# -- sessions and tasks ----------------------------------------------------------------

def test_a_focus_session_takes_the_active_task_unless_it_names_one_or_none(ada):
    active, other = ada.add("active", active=True), ada.add("other")
    first = ada.start()
    assert first["task_id"] == active["id"]
    ada.set_status(first["id"], "cancelled")
    named = ada.start(task_id=other["id"])
    assert named["task_id"] == other["id"]
    ada.set_status(named["id"], "cancelled")
    assert ada.start(task_id=None)["task_id"] is None


def test_a_break_counts_toward_no_task(ada):
    ada.add("active", active=True)
    assert ada.start(type="short_break")["task_id"] is None


def test_a_task_counts_its_completed_focus_sessions_and_the_time_they_ran(ada, app):
    task = ada.add("Write", estimated_pomodoros=3, active=True)
    early = ada.start()
    backdate(app, early["id"], 600)
    finish(ada, early["id"])  # finished early: counts the 600 s it ran
    ada.set_status(ada.start(type="work")["id"], "cancelled")  # skipped: does not count
    counted = ada.task(task["id"])
    assert counted["completed_pomodoros"] == 1
    assert counted["focused_seconds"] == pytest.approx(600, abs=1)


def test_the_plan_adds_up_the_open_tasks_and_the_breaks_between(ada):
    ada.add("a", estimated_pomodoros=2)
    ada.add("b", estimated_pomodoros=3)
    ada.change(ada.add("done", estimated_pomodoros=5)["id"], done=True)
    ada.add("no estimate")
    listed = ada.tasks()
    plan = listed["plan"]
    assert plan["pomodoros_left"] == 5
    assert plan["focus_seconds_left"] == 5 * 1500
    # a new cycle: work, short, work, short, work, short, work, long, work
    expected = 5 * 1500 + 3 * 300 + 900
    finish_at = at(plan["finish_at"])
    assert abs((finish_at - at(ada.get("/users/me").json["created_at"])).total_seconds() - expected) < 60
    done_plan = ada.tasks("done")["plan"]
    assert done_plan == {**plan, "finish_at": done_plan["finish_at"]}, "the plan is always of the open tasks"


def test_a_task_past_its_estimate_needs_no_more_pomodoros(ada, app):
    over = ada.add("over", estimated_pomodoros=2)["id"]
    ada.add("under", estimated_pomodoros=3)
    with app.app_context():  # as if five focus sessions had counted toward it
        db.session.execute(update(Task).where(Task.id == over).values(completed_pomodoros=5))
        db.session.commit()
    assert ada.tasks()["plan"]["pomodoros_left"] == 3


def test_the_plan_of_nothing_has_no_finish(ada):
    assert ada.tasks()["plan"] == {"pomodoros_left": 0, "focus_seconds_left": 0, "finish_at": None}


def test_a_tasks_sessions_come_newest_first_a_page_at_a_time(ada):
    task = ada.add("Write", active=True)
    ids = []
    for _ in range(3):
        session = ada.start(type="work")
        ids.append(session["id"])
        finish(ada, session["id"])
    page = ada.get(f"/tasks/{task['id']}/sessions?per_page=2").json
    assert [s["id"] for s in page["items"]] == ids[::-1][:2]
    assert (page["total"], page["page"], page["per_page"]) == (3, 1, 2)
    assert [s["id"] for s in ada.get(f"/tasks/{task['id']}/sessions?page=2&per_page=2").json["items"]] == ids[:1]


# -- a session's task and note -------------------------------------------------------------

def test_a_note_and_the_task_can_be_set_after_the_session_ended(ada):
    task = ada.add("Write")
    session = ada.start()
    assert (session["task_id"], session["note"], session["interruptions"]) == (None, None, {"internal": 0, "external": 0})
    finish(ada, session["id"])
    changed = ada.patch(f"/sessions/{session['id']}", {"note": "Outlined part 1", "task_id": task["id"]}).json
    assert (changed["note"], changed["task_id"], changed["status"]) == ("Outlined part 1", task["id"], "completed")
    assert ada.task(task["id"])["completed_pomodoros"] == 1, "moved to the task, it counts there"
    cleared = ada.patch(f"/sessions/{session['id']}", {"note": None, "task_id": None}).json
    assert (cleared["note"], cleared["task_id"]) == (None, None)
    assert ada.task(task["id"])["completed_pomodoros"] == 0


def test_changing_a_running_sessions_note_keeps_its_end(ada):
    session = ada.start()
    changed = ada.patch(f"/sessions/{session['id']}", {"note": "halfway"}).json
    assert changed["ends_at"] == session["ends_at"] and changed["status"] == "running"


def test_an_unknown_or_someone_elses_task_is_an_invalid_task_id(ada, client, app):
    bo = Planner(client, person(app))
    bos = bo.add("Bo's")
    session = ada.start()
    ada.set_status(session["id"], "cancelled")
    before = stored_rows(app)
    for task_id in ("nope", bos["id"]):
        error = assert_error(ada.post("/sessions", {"task_id": task_id}), 422, "invalid")
        assert "task_id" in error["fields"]
        error = assert_error(ada.patch(f"/sessions/{session['id']}", {"task_id": task_id}), 422, "invalid")
        assert "task_id" in error["fields"]
    assert stored_rows(app) == before


# -- extending -------------------------------------------------------------------------

def test_extending_a_running_session_moves_its_end(ada):
    session = ada.start()
    extended = ada.patch(f"/sessions/{session['id']}/extend", {"seconds": 60}).json
    assert extended["duration_seconds"] == 1560
    assert at(extended["ends_at"]) - at(session["ends_at"]) == timedelta(seconds=60)


def test_extending_a_paused_session_grows_what_is_left(ada):
    session = ada.start()
    paused = ada.patch(f"/sessions/{session['id']}/stop").json
    extended = ada.patch(f"/sessions/{session['id']}/extend", {"seconds": 300}).json
    assert extended["remaining_seconds"] == pytest.approx(paused["remaining_seconds"] + 300)
    assert extended["ends_at"] is None
    resumed = ada.patch(f"/sessions/{session['id']}/resume").json
    assert abs(at(resumed["ends_at"]) - at(resumed["server_time"]) - timedelta(seconds=extended["remaining_seconds"])) < MS * 50


def test_an_ended_session_cannot_be_extended(ada, app):
    session = ada.start()
    finish(ada, session["id"])
    before = stored_rows(app)
    assert_error(ada.patch(f"/sessions/{session['id']}/extend", {"seconds": 60}), 409, "conflict")
    assert stored_rows(app) == before


def test_a_session_cannot_be_extended_past_a_day(client, app):
    ada = Planner(client, person(app, work_seconds=86400 - 3600))
    session = ada.start()
    assert ada.patch(f"/sessions/{session['id']}/extend", {"seconds": 3600}).status_code == 200
    before = stored_rows(app)
    assert_error(ada.patch(f"/sessions/{session['id']}/extend", {"seconds": 1}), 409, "conflict")
    assert stored_rows(app) == before


# -- interruptions -------------------------------------------------------------------------

def test_interruptions_are_counted_by_kind_on_a_focus_session(ada):
    session = ada.start()
    for kind in ("internal", "external", "internal"):
        counted = ada.post(f"/sessions/{session['id']}/interruptions", {"kind": kind})
        assert counted.status_code == 200
    assert counted.json["interruptions"] == {"internal": 2, "external": 1}
    assert counted.json["ends_at"] == session["ends_at"]
    ada.patch(f"/sessions/{session['id']}/stop")
    assert ada.post(f"/sessions/{session['id']}/interruptions", {"kind": "external"}).status_code == 200


def test_a_break_or_an_ended_session_takes_no_interruptions(ada, app):
    brk = ada.start(type="short_break")
    before = stored_rows(app)
    assert_error(ada.post(f"/sessions/{brk['id']}/interruptions", {"kind": "internal"}), 409, "conflict")
    ada.set_status(brk["id"], "cancelled")
    work = ada.start(type="work")
    finish(ada, work["id"])
    before = stored_rows(app)
    assert_error(ada.post(f"/sessions/{work['id']}/interruptions", {"kind": "internal"}), 409, "conflict")
    assert stored_rows(app) == before


def test_the_openapi_document_describes_the_new_rows(client):
    paths = client.get("/openapi.json").json["paths"]
    for path, method in [("/tasks", "get"), ("/tasks", "post"), ("/tasks/{task_id}", "get"),
                         ("/tasks/{task_id}", "patch"), ("/tasks/{task_id}", "delete"),
                         ("/tasks/{task_id}/sessions", "get"), ("/sessions/{session_id}", "patch"),
                         ("/sessions/{session_id}/extend", "patch"),
                         ("/sessions/{session_id}/interruptions", "post")]:
        assert method in paths[path], (method, path)
    schema = client.get("/openapi.json").json["components"]["schemas"]["NewTask"]["properties"]
    assert schema["title"]["maxLength"] == 200 and schema["estimated_pomodoros"]["maximum"] == 99


def test_a_tasks_counts_always_agree_with_its_completed_focus_sessions(ada, app):
    """The counts are kept as sessions complete and move; added up from the sessions they are the same."""
    from sqlalchemy import func, select

    first, second = ada.add("first", active=True), ada.add("second")
    moved = None
    for number in range(5):
        session = ada.start(type="work")
        backdate(app, session["id"], 60 * (number + 1))
        ada.set_status(session["id"], "cancelled" if number == 2 else "completed")
        if number == 1:
            moved = session["id"]
    ada.patch(f"/sessions/{moved}", {"task_id": second["id"]})
    ada.patch(f"/sessions/{moved}", {"task_id": second["id"]})  # the same again moves nothing
    counted = ada.start(type="work", task_id=second["id"])
    ada.patch(f"/sessions/{counted['id']}/status", {"status": "completed"})
    ada.patch(f"/sessions/{counted['id']}", {"task_id": None})
    with app.app_context():
        sums = dict(((task_id, (count, seconds)) for task_id, count, seconds in db.session.execute(
            select(Session.task_id, func.count(), func.sum(Session.duration_seconds - Session.remaining_seconds))
            .where(Session.status == "completed", Session.type == "work", Session.task_id.is_not(None))
            .group_by(Session.task_id))))
    for task in (first, second):
        stored = ada.task(task["id"])
        count, seconds = sums.get(task["id"], (0, 0))
        assert stored["completed_pomodoros"] == count
        assert stored["focused_seconds"] == pytest.approx(seconds)
    assert ada.task(first["id"])["completed_pomodoros"] == 3 and ada.task(second["id"])["completed_pomodoros"] == 1


def test_the_list_is_written_exactly_as_the_task_schema_writes_one_task(ada):
    """GET /tasks writes its rows without marshmallow (for speed): the same JSON as the schema's."""
    for number in range(3):
        task = ada.add(f"task {number}", notes="n" * number, tags=["a", "B"][:number], estimated_pomodoros=number)
    ada.change(task["id"], done=True)
    listed = {item["id"]: item for item in ada.tasks("all")["items"]}
    for task_id, item in listed.items():
        assert item == ada.task(task_id)

