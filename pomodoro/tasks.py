"""Tasks end to end: each change to the list applies its rules, records what
it says (`announcements`) and commits. The JSON API and the pages both call
these, as they call `actions` for the timer.

Where the contract is silent (see the README's "Tasks"):
- when the active task is done or deleted, the next open task below it in
  the list becomes active (or, with none below, the nearest above it);
- a done task can be reopened (`done: false`): it comes back in its place;
- a done task cannot be made active, and an active task made done stops
  being active.
"""
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from . import announcements as said
from . import actions, planning, rules
from .actions import own_task as get_task
from .extensions import db
from .models import Session, Task, User, utcnow
from .schemas import plan_json, task_json, task_rows_json

PLAN_SETTINGS = ("work_seconds", "short_break_seconds", "long_break_seconds", "long_break_interval")
CHANGED_MEANWHILE = "Another request changed your tasks meanwhile; reload them."


# -- reading ----------------------------------------------------------------------

def active_task(user: User) -> Task | None:
    return db.session.scalar(select(Task).where(Task.user_id == user.id, Task.active))


def listed(user: User, state: str = "open", limit: int | None = None) -> list:
    """The user's tasks in list order: the open ones, the done ones, or all (the
    first `limit`), as plain rows for reading (they cost a page far less than
    tracked objects)."""
    query = select(Task.__table__).where(Task.user_id == user.id)
    if state != "all":
        query = query.where(Task.done == (state == "done"))
    return db.session.execute(query.order_by(Task.position, Task.created_at).limit(limit)).all()


def open_count(user: User) -> int:
    return db.session.scalar(select(func.count()).where(Task.user_id == user.id, Task.done.is_(False)))


def open_work(user: User, task_id: str | None) -> tuple[int, bool]:
    """In one aggregate over the open tasks, however many: the pomodoros their
    estimates leave (a task past its estimate needs none), and whether
    `task_id` is one of them with some left."""
    more = Task.estimated_pomodoros > Task.completed_pomodoros
    left = case((more, Task.estimated_pomodoros - Task.completed_pomodoros), else_=0)
    named = case(((Task.id == task_id) & more, 1), else_=0)
    total, counts = db.session.execute(
        select(func.coalesce(func.sum(left), 0), func.coalesce(func.max(named), 0))
        .where(Task.user_id == user.id, Task.done.is_(False))).one()
    return int(total), bool(counts)


def done_recently(user: User, limit: int) -> list:
    """The user's `limit` most recently done tasks, as plain rows."""
    return db.session.execute(select(Task.__table__).where(Task.user_id == user.id, Task.done)
                              .order_by(Task.done_at.desc(), Task.id).limit(limit)).all()


def done_count(user: User) -> int:
    return db.session.scalar(select(func.count()).where(Task.user_id == user.id, Task.done))


def plan(user: User, now: datetime | None = None, timer: tuple | None = None) -> planning.Plan:
    """The plan for the open tasks from `now`; `timer` is the current session
    and active cycle (either may be None), looked up unless the caller has them."""
    now = now or utcnow()
    if timer is not None:
        current, cycle = timer
    else:
        current = actions.current_session(user, now)
        cycle = current.cycle if current is not None else actions.active_cycle(user)
    left, counts = open_work(user, current.task_id if current is not None else None)
    settings = SimpleNamespace(**{name: getattr(user, name) for name in PLAN_SETTINGS})  # read once, not per step
    return planning.plan(left, settings, cycle, current, counts, now)


def task_list(user: User, state: str = "open", now: datetime | None = None) -> dict:
    """`GET /tasks`: the tasks in list order (as JSON, read as plain rows: a
    list of hundreds is read and written in a few milliseconds), with the plan
    for the open ones."""
    query = select(Task.__table__).where(Task.user_id == user.id)
    if state != "all":
        query = query.where(Task.done == (state == "done"))
    rows = db.session.execute(query.order_by(Task.position, Task.created_at)).all()
    return {"items": task_rows_json(rows), "plan": plan_json(plan(user, now))}


def sessions_of(user: User, task_id: str, page: int, per_page: int) -> dict:
    """The task's sessions, newest first, a page at a time."""
    task = get_task(user, task_id)
    owned = select(Session).where(Session.user_id == user.id, Session.task_id == task.id)
    total = db.session.scalar(select(func.count()).select_from(owned.subquery()))
    items = db.session.scalars(owned.order_by(Session.started_at.desc(), Session.id.desc())
                               .limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": items, "page": page, "per_page": per_page, "total": total}


# -- changing ---------------------------------------------------------------------

def _flush() -> None:
    """Write the changes so far (the active task steps down before another
    takes its place); a concurrent change to the same list is a refusal."""
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise rules.Refused(CHANGED_MEANWHILE) from None


def _announce(user: User, event: str, tasks: list[Task]) -> None:
    """Say `event` of each task (once each), with its progress."""
    for task in dict.fromkeys(tasks):
        said.announce(user.id, event, {"task": task_json(task)})


def _make_active(user: User, task: Task | None) -> list[Task]:
    """Make `task` the active one (None: no task); returns every task changed."""
    changed = []
    previous = active_task(user)
    if previous is not None and previous is not task:
        previous.active = False
        changed.append(previous)
        _flush()
    if task is not None and not task.active:
        if task.done:
            raise rules.Refused("A done task cannot be the active one; reopen it first.")
        task.active = True
        changed.append(task)
    return changed


def _successor(user: User, task: Task) -> Task | None:
    """The open task that takes over from `task`: the next one below it, else the nearest above."""
    others = db.session.scalars(select(Task).where(
        Task.user_id == user.id, Task.id != task.id, Task.done.is_(False)).order_by(Task.position)).all()
    below = [other for other in others if other.position > task.position]
    return below[0] if below else (others[-1] if others else None)


def _hand_over(user: User, task: Task) -> list[Task]:
    """`task` stops being active (it is done or going away): its successor takes over."""
    task.active = False
    _flush()
    successor = _successor(user, task)
    return _make_active(user, successor) if successor is not None else []


def _move(user: User, task: Task, position: int) -> list[Task]:
    """Put `task` at `position` (1-based) in the whole list, the others closing up and making room."""
    ordered = db.session.scalars(select(Task).where(Task.user_id == user.id, Task.id != task.id)
                                 .order_by(Task.position, Task.created_at)).all()
    ordered.insert(min(position, len(ordered) + 1) - 1, task)
    moved = []
    for place, each in enumerate(ordered, start=1):
        if each.position != place:
            each.position = place
            moved.append(each)
    return moved


def create_task(user: User, fields: dict) -> Task:
    last = db.session.scalar(select(func.max(Task.position)).where(Task.user_id == user.id)) or 0
    task = Task(user_id=user.id, title=fields["title"], notes=fields.get("notes", ""),
                tags=list(fields.get("tags", [])), estimated_pomodoros=fields.get("estimated_pomodoros", 0),
                position=last + 1)
    db.session.add(task)
    _flush()
    changed = _make_active(user, task) if fields.get("active") else []
    _announce(user, said.TASK_CREATED, [task])
    _announce(user, said.TASK_UPDATED, [other for other in changed if other is not task])
    said.commit(CHANGED_MEANWHILE)
    return task


def update_task(user: User, task_id: str, changes: dict, now: datetime | None = None) -> Task:
    now = now or utcnow()
    task = get_task(user, task_id)
    changed = [task]
    for field in ("title", "notes", "tags", "estimated_pomodoros"):
        if field in changes:
            setattr(task, field, list(changes[field]) if field == "tags" else changes[field])
    if "done" in changes and changes["done"] != task.done:
        task.done, task.done_at = changes["done"], now if changes["done"] else None
    task.updated_at = now
    if task.done and task.active:
        changed += _hand_over(user, task)
    if "active" in changes:
        changed += _make_active(user, task) if changes["active"] else _make_active(user, None)
    if "position" in changes:
        changed += _move(user, task, changes["position"])
    _announce(user, said.TASK_UPDATED, changed)
    said.commit(CHANGED_MEANWHILE)
    return task


def delete_task(user: User, task_id: str) -> None:
    """Delete the task; its sessions stay, counting as no task."""
    task = get_task(user, task_id)
    changed = _hand_over(user, task) if task.active else []
    db.session.delete(task)
    said.announce(user.id, said.TASK_DELETED, {"task": {"id": task.id}})
    _announce(user, said.TASK_UPDATED, changed)
    said.commit(CHANGED_MEANWHILE)
