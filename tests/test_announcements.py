"""The unit of work every action ends with: what is announced is said once the
change is stored, and never when it is not; hooks run inside the transaction
and after it; a change stored by a process that died before saying it still
reaches the sockets."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from pomodoro import announcements, rules
from pomodoro.events import RESYNC, Listener
from pomodoro.extensions import db as _db
from pomodoro.models import User, utcnow

from .helpers import drain, dying_right_after_the_commit, user_record, wait_for_the_relay
from .live import wait_until


@pytest.fixture
def ada(db, auth):
    return user_record(db, auth.sign_up("ada@example.org"))


@pytest.fixture
def heard(app, ada):
    """What Ada's sockets would hear."""
    listener = Listener(ada.id)
    app.extensions["pomodoro.events"].subscribe(listener)
    return lambda: drain(listener)


@pytest.fixture
def hooks():
    """Register hooks for one test only."""
    registered = []

    def register(kind):
        def decorate(hook):
            registered.append(kind(hook))
            return hook
        return decorate

    yield register
    for hook in registered:
        for chain in (announcements._before, announcements._after):
            if hook in chain:
                chain.remove(hook)


def test_what_is_announced_is_said_after_the_commit(ada, heard):
    ada.name = "Ada L."
    announcements.announce(ada.id, announcements.CONFIGURATION_UPDATED, {"configuration": {"name": 1}})
    assert heard() == [], "nothing is said before the commit"
    said = announcements.commit(refusal="no")
    assert [one.event for one in said] == [announcements.CONFIGURATION_UPDATED]
    frames = heard()
    assert len(frames) == 1 and '"configuration.updated"' in frames[0]


def test_a_refused_change_says_nothing_and_stores_nothing(db, ada, heard):
    announcements.announce(ada.id, announcements.CONFIGURATION_UPDATED, {})
    db.session.add(User(email="ADA@example.org", password_hash="x"))  # the e-mail is taken: a lost race
    with pytest.raises(rules.Refused, match="taken"):
        announcements.commit(refusal="taken")
    assert heard() == []
    assert db.session.scalars(select(User)).all() == [ada]
    announcements.announce(ada.id, announcements.CONFIGURATION_UPDATED, {})
    db.session.rollback()
    announcements.commit(refusal="no")
    assert heard() == [], "the rollback dropped what was announced before it"


def test_a_change_rolled_back_by_an_error_says_nothing(db, ada, heard, hooks):
    @hooks(announcements.before_commit)
    def fail(_announced):
        raise RuntimeError("the delivery row could not be written")

    name = ada.name
    ada.name = "changed"
    announcements.announce(ada.id, announcements.CONFIGURATION_UPDATED, {})
    with pytest.raises(RuntimeError):
        announcements.commit(refusal="no")
    assert heard() == []
    assert db.session.get(User, ada.id, populate_existing=True).name == name


def test_hooks_run_inside_the_transaction_and_after_it(app, db, ada, hooks):
    seen = []

    def stored_elsewhere() -> bool:
        """Whether another connection sees the change yet (it does once committed)."""
        with db.engine.connect() as other:
            return other.scalar(select(User.name).where(User.id == ada.id)) == "Ada L."

    @hooks(announcements.before_commit)
    def before(announced):
        assert db.session().in_transaction()
        seen.append(("before", [one.event for one in announced], stored_elsewhere()))

    @hooks(announcements.after_commit)
    def after(announced):
        seen.append(("after", [one.event for one in announced], stored_elsewhere()))

    ada.name = "Ada L."
    db.session.flush()
    announcements.announce(ada.id, announcements.CONFIGURATION_UPDATED, {})
    announcements.commit(refusal="no")
    events = [announcements.CONFIGURATION_UPDATED]
    assert seen == [("before", events, False), ("after", events, True)]


def test_an_announcement_carries_who_what_and_when(ada):
    before = utcnow()
    announcements.announce(ada.id, announcements.SESSION_UPDATED, {"x": 1})
    [one] = announcements.commit(refusal="no")
    assert (one.user_id, one.event, one.data) == (ada.id, announcements.SESSION_UPDATED, {"x": 1})
    assert before <= one.at <= utcnow()


def test_the_catalogue_lists_every_event_a_socket_can_get():
    assert announcements.HELLO not in announcements.USER_EVENTS
    assert announcements.WEBHOOK_TEST not in announcements.USER_EVENTS
    assert len(set(announcements.USER_EVENTS)) == len(announcements.USER_EVENTS) == 13


# -- a process that dies between the commit and the publishing -------------------

def test_a_change_stored_by_a_process_that_died_before_saying_it_resynchronises_the_sockets(
        app, db, ada, heard, clean_redis):
    events = app.extensions["pomodoro.events"]
    wait_for_the_relay(ada.id, heard)
    ada.name = "Ada L."
    announcements.announce(ada.id, announcements.CONFIGURATION_UPDATED, {})
    with dying_right_after_the_commit(_db.session):
        announcements.commit(refusal="no")
    assert db.session.get(User, ada.id, populate_existing=True).name == "Ada L."

    assert events.resynchronise_unannounced((utcnow() + timedelta(seconds=5)).timestamp()) == 1
    frames = []
    wait_until(lambda: frames.extend(heard()) or RESYNC in frames, 5, message="a fresh hello")
    assert events.resynchronise_unannounced((utcnow() + timedelta(seconds=10)).timestamp()) == 0, "once"
