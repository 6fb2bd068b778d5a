"""Tasks in a real browser, as a new user would meet them: add a task, estimate
2, make it active, run a short focus session to its end, see "1 of 2" and say
what was done, extend a session and see the new end, and watch a second tab
follow along. Leaves screenshots of the timer with tasks under screenshots/
(phone and desktop, light and dark)."""
import re

from .browser import email, expect, go, new_context, sign_up
from .test_browser import PHONE, SHOTS, shots  # noqa: F401  (the module-scoped fixture)


def test_a_new_user_plans_and_works_through_a_task(browser, server, shots):  # noqa: F811
    context = new_context(browser, server, timezone_id="Europe/Paris")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_up(page, email("tasks"))
    go(page, "Settings")
    page.get_by_label("Focus", exact=True).fill("0:02")
    page.get_by_label("Start breaks automatically").uncheck()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    go(page, "Timer")
    other = context.new_page()
    other.goto("/")
    expect(other.locator("#live")).to_have_attribute("data-state", "on")
    expect(page.locator("#live")).to_have_attribute("data-state", "on")

    # Add a task with Enter: it shows here, and in the other tab within a second.
    page.get_by_label("New task").fill("Write the report")
    page.get_by_label("New task").press("Enter")
    row = page.locator("#task-list li.task").first
    expect(row).to_contain_text("Write the report")
    expect(page.get_by_label("New task")).to_be_focused()
    expect(other.locator("#task-list")).to_contain_text("Write the report", timeout=1000)
    # What is half typed here survives the list refreshing for a task added in the other tab.
    page.get_by_label("New task").fill("half typed")
    other.get_by_label("New task").fill("From the other tab")
    other.get_by_label("New task").press("Enter")
    expect(page.locator("#task-list")).to_contain_text("From the other tab", timeout=1000)
    expect(page.get_by_label("New task")).to_have_value("half typed")
    page.locator("#task-list li.task").last.get_by_role("button", name="Delete From the other tab").click()
    expect(other.locator("#task-list li.task")).to_have_count(1)
    page.get_by_label("New task").fill("")

    # Estimate 2 and make it the active one.
    row.get_by_role("button", name="One pomodoro more").click()
    expect(row.locator(".task-count")).to_have_text("0 of 1")
    row.get_by_role("button", name="One pomodoro more").click()
    expect(page.locator("#task-list li.task").first.locator(".task-count")).to_have_text("0 of 2")
    expect(page.locator("#plan-line")).to_contain_text("2 pomodoros left · done at")
    page.locator("#task-list").get_by_role("button", name="Write the report", exact=True).click()
    expect(page.locator("#task-list li.task-active")).to_contain_text("Write the report")
    expect(page.locator("#working-on")).to_have_text("Working on: Write the report")
    expect(other.locator("#working-on")).to_have_text("Working on: Write the report")

    # A second task, edited in place, then moved up by keyboard.
    page.get_by_label("New task").fill("Answer email")
    page.get_by_label("New task").press("Enter")
    expect(page.locator("#task-list li.task")).to_have_count(2)
    page.get_by_role("link", name="Edit Answer email").click()
    page.locator(".task-edit").get_by_label("Tags").fill("admin")
    page.locator(".task-edit").get_by_role("button", name="Save").click()
    expect(page.locator("#task-list li.task").last.locator(".tag")).to_have_text("admin")
    page.locator("#task-list li.task").last.get_by_role("button", name="Move up").focus()
    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("#task-list li.task").first).to_contain_text("Answer email")
    expect(other.locator("#task-list li.task").first).to_contain_text("Answer email")
    page.screenshot(path=shots / "tasks-walkthrough-desktop-light.png", full_page=True)

    # A two-second focus session runs to its end: "1 of 2", and the note.
    page.get_by_role("button", name="Start focus").click()
    expect(page.locator("#timer")).to_have_attribute("data-status", "running")
    expect(page.get_by_text("What did you get done?")).to_be_visible(timeout=6000)
    expect(page.locator("#task-list li.task-active .task-count")).to_have_text("1 of 2")
    expect(other.locator("#task-list li.task-active .task-count")).to_have_text("1 of 2")
    page.get_by_label(re.compile("What did you get done")).fill("Outlined the report")
    page.get_by_label(re.compile("What did you get done")).press("Enter")
    expect(page.locator("#note-prompt")).to_have_count(0)

    # Extend a session with the + key and the +5 min button: the end moves.
    page.locator("#primary-action").click()  # the short break
    expect(page.locator("#timer")).to_have_attribute("data-status", "running")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#timer")).to_have_attribute("data-status", "paused")
    before = float(page.locator("#timer").get_attribute("data-remaining"))
    page.locator("body").press("+")  # the 5-minute short break, one minute longer
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^0[56]:[05]\d$"))
    page.get_by_role("button", name="+5 min").click()
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^1[01]:[05]\d$"))
    expect(other.locator("#countdown")).to_have_text(page.locator("#countdown").inner_text())
    # The countdown can show the new end a moment before the timer part is swapped in.
    page.wait_for_function("least => parseFloat(document.querySelector('#timer').dataset.remaining) > least",
                           arg=before + 359, timeout=5000)
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#state-line")).to_contain_text("Ends at")

    # History: the session's task and note.
    go(page, "History")
    expect(page.locator(".session-note").first).to_have_text("Outlined the report")
    expect(page.locator(".session-task").last).to_contain_text("Write the report")
    assert errors == []
    context.close()


def test_a_refresh_for_another_tabs_change_keeps_the_keyboard_where_it_was(browser, server):
    """Someone moving a task with the keyboard keeps their place when the list
    refreshes under them (here for a task added in another tab)."""
    context = new_context(browser, server)
    page = context.new_page()
    sign_up(page, email("focus"))
    for title in ("First", "Second"):
        page.get_by_label("New task").fill(title)
        page.get_by_label("New task").press("Enter")
        expect(page.locator("#task-list")).to_contain_text(title)
    other = context.new_page()
    other.goto("/")
    expect(page.locator("#live")).to_have_attribute("data-state", "on")
    second = page.locator("#task-list li.task", has_text="Second")
    second.get_by_role("button", name="Move up").focus()
    other.get_by_label("New task").fill("Third, from the other tab")
    other.get_by_label("New task").press("Enter")
    expect(page.locator("#task-list li.task")).to_have_count(3)
    expect(second.get_by_role("button", name="Move up")).to_be_focused()
    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("#task-list li.task").first).to_contain_text("Second")
    context.close()


def test_editing_a_task_starts_in_its_title_unless_the_person_went_elsewhere_first(browser, server):
    """Edit puts the keyboard in the title. Someone who goes to another field
    of the form before it settles (here at once, as a quick hand or a script
    would) keeps their place: what they type does not land in the title."""
    context = new_context(browser, server)
    page = context.new_page()
    sign_up(page, email("quick-edit"))
    page.get_by_label("New task").fill("Answer email")
    page.get_by_label("New task").press("Enter")
    expect(page.locator("#task-list")).to_contain_text("Answer email")
    page.get_by_role("link", name="Edit Answer email").click()
    expect(page.locator(".task-edit").get_by_label("Title")).to_be_focused()
    page.locator(".task-edit").get_by_role("link", name="Cancel").click()
    expect(page.locator(".task-edit")).to_have_count(0)

    page.evaluate("""() => { window.editSettled = new Promise(function (resolve) {
      document.body.addEventListener('htmx:afterSwap', function () {
        var tags = document.querySelector('.task-edit input[name="tags"]');
        if (tags) tags.focus();  // at once, before the board settles
      });
      document.body.addEventListener('htmx:afterSettle', function () {
        if (document.querySelector('.task-edit')) resolve();
      });
    }); }""")
    page.get_by_role("link", name="Edit Answer email").click()
    page.evaluate("() => window.editSettled")
    expect(page.locator(".task-edit").get_by_label("Tags")).to_be_focused()
    page.keyboard.type("admin")
    page.locator(".task-edit").get_by_role("button", name="Save").click()
    row = page.locator("#task-list li.task").first
    expect(row.locator(".tag")).to_have_text("admin")
    expect(row.locator(".task-title")).to_have_text("Answer email")
    context.close()


def test_a_change_heard_while_the_list_is_refreshing_keeps_the_new_task_field(browser, server):
    """A second change arrives while the list's refresh for the first is on
    its way (held here, as a busy server would): the list ends up showing
    both, and the add field stays where it was, with what is being typed."""
    context = new_context(browser, server)
    page = context.new_page()
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket))
    sign_up(page, email("overlap"))
    other = context.new_page()
    other.goto("/")
    expect(other.locator("#live")).to_have_attribute("data-state", "on")
    held = []

    def hold(route):  # the first refresh of the list waits; the later ones go straight on
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route(re.compile(r"part=tasks"), hold)
    page.get_by_label("New task").fill("half typ")
    other.get_by_label("New task").fill("First from the other tab")
    with page.expect_request(lambda request: "part=tasks" in request.url):
        other.get_by_label("New task").press("Enter")
    other.get_by_label("New task").fill("Second from the other tab")
    created = lambda frame: "task.created" in str(frame) and "Second from" in str(frame)  # noqa: E731
    with sockets[-1].expect_event("framereceived", created):
        other.get_by_label("New task").press("Enter")
    assert len(held) == 1, "the first refresh is still held"
    held[0].continue_()
    expect(page.locator("#task-list li.task")).to_have_count(2)
    field = page.locator("#tasks").get_by_label("New task")  # where it was, not stranded elsewhere
    expect(field).to_be_visible()
    expect(field).to_have_value("half typ")
    field.press("End")
    field.press_sequentially("ed")
    field.press("Enter")
    expect(page.locator("#task-list li.task")).to_have_count(3)
    expect(page.locator("#task-list")).to_contain_text("half typed")
    context.close()


def test_an_event_older_than_what_the_page_shows_does_not_turn_the_clock_back(browser, server):
    """The socket's word of the first extension comes after the page already
    shows the second (held back here to make sure): the clock stays put.

    Every word from the server after the hello is held while the test clicks,
    so that no refresh the socket asks for swaps the buttons out under a click."""
    context = new_context(browser, server)
    page = context.new_page()
    held, route = [], {}

    def through(socket):
        upstream = socket.connect_to_server()
        route["page"] = socket
        upstream.on_message(lambda message: socket.send(message) if '"event":"hello"' in message.replace(" ", "")
                            else held.append(message))

    page.route_web_socket(re.compile(r"/ws$"), through)
    sign_up(page, email("stale"))
    expect(page.locator("#live")).to_have_attribute("data-state", "on")
    page.get_by_role("button", name="Start focus").click()
    expect(page.locator("#timer")).to_have_attribute("data-status", "running")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#timer")).to_have_attribute("data-status", "paused")
    page.get_by_role("button", name="+1 min").click()
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^2[56]:\d\d$"))
    page.get_by_role("button", name="+5 min").click()
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^3[01]:\d\d$"))
    page.evaluate("""() => { window.shown = [];
        new MutationObserver(() => window.shown.push(document.getElementById('countdown').textContent))
          .observe(document.getElementById('timer').parentNode, {subtree: true, childList: true, characterData: true}); }""")
    extended = [message for message in held if '"session.extended"' in message]
    assert len(extended) == 2
    with page.expect_response(lambda answer: answer.request.method == "GET" and answer.url.endswith("/")):
        route["page"].send(extended[0])  # the first extension's event, late; the page refreshes after it
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^3[01]:\d\d$"))
    assert not [text for text in page.evaluate("window.shown") if text.startswith(("25", "26"))]
    context.close()


def test_screenshots_of_the_timer_with_tasks(browser, server, shots):  # noqa: F811
    context = new_context(browser, server)
    page = context.new_page()
    sign_up(page, email("task-shots"))
    for title, estimate in [("Write the quarterly report", 4), ("Review pull requests", 2), ("Answer email", 1),
                            ("Plan tomorrow", 0)]:
        page.get_by_label("New task").fill(title)
        page.get_by_label("New task").press("Enter")
        expect(page.locator("#task-list li.task").last).to_contain_text(title)
        for _ in range(estimate):
            page.locator("#task-list li.task").last.get_by_role("button", name="One pomodoro more").click()
            page.wait_for_load_state("networkidle")
    page.locator("#task-list").get_by_role("button", name="Write the quarterly report", exact=True).click()
    expect(page.locator("#working-on")).to_be_visible()
    page.locator("#task-list li.task").nth(2).get_by_role("button", name=re.compile("^Done")).click()
    expect(page.locator(".done-tasks summary")).to_have_text("Done · 1")
    page.get_by_role("button", name="Start focus").click()
    expect(page.locator("#timer")).to_have_attribute("data-status", "running")
    storage = context.storage_state()
    context.close()
    for scheme in ("light", "dark"):
        for device, viewport in (("desktop", None), ("phone", PHONE)):
            options = {"color_scheme": scheme, "storage_state": storage}
            if viewport:
                options["viewport"] = viewport
            shot = new_context(browser, server, **options)
            view = shot.new_page()
            view.goto("/")
            expect(view.locator("#task-list li.task")).to_have_count(3)
            expect(view.locator("#live")).to_have_attribute("data-state", "on")  # not a "Connecting…" shot
            view.screenshot(path=SHOTS / f"tasks-timer-{device}-{scheme}.png", full_page=True)
            shot.close()
