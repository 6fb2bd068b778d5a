"""The hub hands each event to the user's own sockets and never blocks on one."""
from pomodoro.events import CLOSE, Hub, Listener


def test_events_reach_every_socket_of_the_user_and_no_one_else():
    hub = Hub()
    laptop, phone, other = Listener("ada"), Listener("ada"), Listener("bob")
    for listener in (laptop, phone, other):
        hub.add(listener)
    hub.deliver("ada", "tick")
    assert laptop.inbox.get_nowait() == phone.inbox.get_nowait() == "tick"
    assert other.inbox.empty()


def test_a_socket_that_falls_too_far_behind_is_dropped_and_told_to_close():
    hub = Hub()
    slow, brisk = Listener("ada", size=3), Listener("ada", size=100)
    hub.add(slow)
    hub.add(brisk)
    for number in range(10):
        hub.deliver("ada", number)  # never blocks, however full the slow inbox is
    drained = []
    while not slow.inbox.empty():
        drained.append(slow.inbox.get_nowait())
    assert drained[-1] is CLOSE
    assert brisk.inbox.qsize() == 10
    hub.deliver("ada", "later")
    assert slow.inbox.empty(), "the slow socket no longer receives"
    assert brisk.inbox.qsize() == 11
