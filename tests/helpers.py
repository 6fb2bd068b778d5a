"""Helpers shared by the test modules (fixtures live in conftest.py)."""
from contextlib import contextmanager

import pytest

from pomodoro.models import User


class Died(BaseException):
    """The process stopped dead at this point (SIGKILL, say): nothing after it runs."""


@contextmanager
def dying_right_after_the_commit(session):
    """Inside: the next commit of the database `session` stores the change, and
    then the process dies (`Died`) before anything after the commit runs."""
    commit = session.commit

    def commit_then_die():
        commit()
        raise Died

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(session, "commit", commit_then_die)
        with pytest.raises(Died):
            yield


def user_record(db, account) -> User:
    """The stored user behind an `auth.sign_up` account, for tests that call actions directly."""
    return db.session.get(User, account.id)


def drain(listener) -> list:
    """Everything waiting in a hub listener's inbox, oldest first."""
    frames = []
    while not listener.inbox.empty():
        frames.append(listener.inbox.get_nowait())
    return frames
