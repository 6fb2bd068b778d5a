"""The task list and the timer's task controls through the pages: every action
works as a plain form post (303 back to the page) and as htmx (the fragment),
bad input is a message, and history shows and changes a session's task and note."""
import re

import pytest

from pomodoro.models import Session, Task

from .test_pages import Person, current, stored

HTMX = {"HX-Request": "true"}


@pytest.fixture
def ada(client):
    person = Person(client)
    person.sign_up()
    return person


def task_ids(html: str) -> list[str]:
    return re.findall(r'<li class="task[^"]*" id="task-([0-9a-f]+)" data-task', html)


def add(person, title, htmx=False):
    response = person.post("/tasks/add", {"title": title}, htmx=htmx)
    assert response.status_code == (200 if htmx else 303), response.text
    return task_ids(person.get("/").text)[-1]


def test_the_timer_page_lists_the_open_tasks_with_the_plan(ada):
    assert "Nothing planned" in ada.get("/").text
    task = add(ada, "Write the report")
    ada.post(f"/tasks/{task}/estimate/more")
    ada.post(f"/tasks/{task}/estimate/more")
    page = ada.get("/").text
    assert "Write the report" in page
    assert re.search(r"2 pomodoros left · done at <time datetime=\"[^\"]+\">\d\d:\d\d</time>", page)
    assert '<span class="task-count" title="Pomodoros done of the estimate">0 of 2</span>' in page


def test_adding_without_javascript_comes_back_to_the_page(ada):
    response = ada.post("/tasks/add", {"title": "Read"})
    assert response.status_code == 303 and response.headers["Location"] == "/#tasks"


def test_htmx_gets_the_board_alone_with_the_plan_line_beside_it(ada):
    """The add field is not in what htmx swaps (what is typed there stays);
    the plan line in the heading comes along out of band."""
    response = ada.post("/tasks/add", {"title": "Read"}, htmx=True)
    assert response.text.lstrip().startswith('<div id="task-board"')
    assert "Read" in response.text and 'id="new-task"' not in response.text
    task = task_ids(ada.get("/").text)[-1]
    response = ada.post(f"/tasks/{task}/estimate/more", htmx=True)
    assert re.search(r'<p class="plan-line" id="plan-line" hx-swap-oob="true">\s*1 pomodoro left', response.text)
    fragment = ada.get("/?part=tasks", htmx=True).text
    assert fragment.lstrip().startswith('<div id="task-board"') and "Read" in fragment
    assert 'id="timer"' in ada.get("/?part=tasks").text, "without htmx the same URL is the whole page"


def test_an_empty_title_is_a_message_and_adds_nothing(ada, app):
    response = ada.post("/tasks/add", {"title": "   "}, htmx=True)
    assert response.status_code == 422
    assert "Title:" in response.text
    assert task_ids(ada.get("/").text) == []


def test_done_tasks_fold_away_and_can_be_reopened(ada):
    task = add(ada, "Send invoices")
    ada.post(f"/tasks/{task}/done")
    page = ada.get("/").text
    assert task_ids(page) == []
    assert "Done · 1" in page and "Send invoices" in page
    ada.post(f"/tasks/{task}/reopen")
    assert task_ids(ada.get("/").text) == [task]


def test_clicking_a_task_makes_it_the_one_worked_on(ada, app):
    first, second = add(ada, "first"), add(ada, "second")
    ada.post(f"/tasks/{second}/activate")
    assert 'Working on: <strong>second</strong>' in ada.get("/").text
    ada.post("/sessions/start")
    assert stored(app, Session, current(app).id).task_id == second
    ada.post(f"/tasks/{second}/deactivate")
    assert stored(app, Task, second).active is False


def test_moving_by_button_and_by_position(ada):
    a, b, c = add(ada, "a"), add(ada, "b"), add(ada, "c")
    ada.post(f"/tasks/{c}/move/up")
    assert task_ids(ada.get("/").text) == [a, c, b]
    ada.post(f"/tasks/{a}/move/down", htmx=True)
    assert task_ids(ada.get("/").text) == [c, a, b]
    ada.post(f"/tasks/{b}/move/to", {"position": "1"})
    assert task_ids(ada.get("/").text) == [b, c, a]
    ada.post(f"/tasks/{b}/move/up")  # already first: nothing moves
    assert task_ids(ada.get("/").text) == [b, c, a]


def test_editing_in_place(ada, app):
    task = add(ada, "Draft")
    form = ada.get(f"/tasks/{task}/edit", htmx=True).text
    assert 'class="task-edit"' in form and 'value="Draft"' in form
    assert "data-refresh" not in form, "no refresh from another tab's change wipes the edit"
    assert ada.get(f"/tasks/{task}/edit").status_code == 303, "without htmx: the page with the row as a form"
    assert 'class="task-edit"' in ada.get(f"/?edit={task}").text
    response = ada.post(f"/tasks/{task}/edit", {"title": "Final", "tags": "work, Q3", "notes": "two parts",
                                                 "estimated_pomodoros": "3"})
    assert response.status_code == 303
    saved = stored(app, Task, task)
    assert (saved.title, saved.tags, saved.notes, saved.estimated_pomodoros) == ("Final", ["work", "Q3"], "two parts", 3)
    bad = ada.post(f"/tasks/{task}/edit", {"title": "x", "tags": ", ".join(f"t{n}" for n in range(11))}, htmx=True)
    assert bad.status_code == 422 and "Tags:" in bad.text
    assert stored(app, Task, task).title == "Final"


def test_deleting(ada, app):
    task = add(ada, "Gone")
    ada.post(f"/tasks/{task}/delete")
    assert stored(app, Task, task) is None


def test_someone_elses_task_is_not_found(client, ada, app):
    task = add(ada, "Ada's")
    bo = Person(client)
    client.post("/logout", data={"csrf_token": ada.token})
    bo.sign_up("bo@example.org")
    for path in (f"/tasks/{task}/done", f"/tasks/{task}/delete", f"/tasks/{task}/estimate/more",
                 f"/tasks/{task}/move/up", f"/tasks/{task}/edit"):
        response = bo.post(path, {"title": "Bo's"}, htmx=True)
        assert response.status_code in (404, 409), (path, response.status_code)
    saved = stored(app, Task, task)
    assert (saved.title, saved.done, saved.estimated_pomodoros) == ("Ada's", False, 0)


def test_task_buttons_need_the_csrf_token_and_post(ada, app):
    task = add(ada, "Safe")
    assert ada.post(f"/tasks/{task}/done", csrf=False).status_code == 303
    assert "This form expired; please try again." in ada.get("/").text
    expired = ada.post(f"/tasks/{task}/done", csrf=False, htmx=True)
    assert expired.status_code == 400 and expired.text.lstrip().startswith('<div id="task-board"')
    assert ada.client.get(f"/tasks/{task}/done").status_code == 405
    assert ada.client.head(f"/tasks/{task}/delete").status_code == 405
    assert stored(app, Task, task).done is False


# -- the timer's controls ---------------------------------------------------------------

def test_extend_and_interrupted_buttons_while_a_focus_session_runs(ada, app):
    ada.post("/sessions/start")
    session_id = ada.session_id()
    page = ada.get("/").text
    assert 'id="extend-60"' in page and 'id="extend-300"' in page and 'id="interrupted-internal"' in page
    before = current(app).ends_at
    assert ada.post("/sessions/extend", {"session_id": session_id, "seconds": "60"}).status_code == 303
    assert (current(app).ends_at - before).total_seconds() == 60
    ada.post("/sessions/extend", {"session_id": session_id, "seconds": "300"}, htmx=True)
    assert current(app).duration_seconds == 1500 + 360
    ada.post("/sessions/interrupted", {"session_id": session_id, "kind": "external"})
    assert current(app).interruptions_external == 1
    assert ada.post("/sessions/extend", {"session_id": session_id, "seconds": "0"}, htmx=True).status_code == 422
    assert ada.post("/sessions/interrupted", {"session_id": session_id, "kind": "x"}, htmx=True).status_code == 422


def test_what_did_you_get_done_after_a_focus_session(ada, app):
    ada.post("/sessions/start")
    session_id = ada.session_id()
    assert 'id="note-prompt"' not in ada.get("/").text
    ada.post("/sessions/finish", {"session_id": session_id})
    assert "What did you get done?" in ada.get("/").text
    ada.post("/sessions/note", {"session_id": session_id, "note": "Outlined part one"})
    assert stored(app, Session, session_id).note == "Outlined part one"
    assert 'id="note-prompt"' not in ada.get("/").text


def test_the_note_question_can_be_dismissed(ada, app):
    ada.post("/sessions/start")
    session_id = ada.session_id()
    ada.post("/sessions/finish", {"session_id": session_id})
    ada.post("/sessions/note", {"session_id": session_id, "note": "", "dismiss": "1"})
    assert 'id="note-prompt"' not in ada.get("/").text
    assert stored(app, Session, session_id).note is None


# -- history --------------------------------------------------------------------------

def test_history_shows_and_changes_a_sessions_task_and_note(ada, app):
    task = add(ada, "Report")
    ada.post(f"/tasks/{task}/activate")
    ada.post("/sessions/start")
    session_id = ada.session_id()
    ada.post("/sessions/interrupted", {"session_id": session_id, "kind": "internal"})
    ada.post("/sessions/finish", {"session_id": session_id})
    page = ada.get("/history").text
    assert "Report" in page and "1 interruption" in page
    other = add(ada, "Email")
    form = ada.get(f"/history?edit={session_id}").text
    assert f'action="/history/sessions/{session_id}"' in form
    response = ada.post(f"/history/sessions/{session_id}", {"note": "Wrote the intro", "task_id": other})
    assert response.status_code == 303
    saved = stored(app, Session, session_id)
    assert (saved.note, saved.task_id) == ("Wrote the intro", other)
    assert "Wrote the intro" in ada.get("/history").text


def test_a_long_list_shows_its_first_fifty_and_the_rest_on_request(ada):
    for number in range(52):
        ada.post("/tasks/add", {"title": f"Task {number}"})
    page = ada.get("/").text
    assert len(task_ids(page)) == 50
    assert "Show all 52 open tasks" in page
    everything = ada.get("/?all=1").text
    assert len(task_ids(everything)) == 52 and "Show all" not in everything
    last = task_ids(everything)[-1]
    response = ada.post(f"/tasks/{last}/move/up", {"all": "1"})
    assert response.headers["Location"] == "/?all=1#tasks", "the whole list stays shown"
