"""One declaration per body: it validates requests, shapes responses and
events, and writes the OpenAPI document."""
from datetime import UTC, date
from functools import cache
from zoneinfo import available_timezones

from marshmallow import Schema, ValidationError, fields, pre_dump, validate, validates

from . import rules
from .models import email_key, utcnow

SECONDS = validate.Range(min=1, max=86400)


class StrictInteger(fields.Integer):
    """An integer that refuses floats, numeric strings and booleans."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """true or false, nothing that merely looks like them."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def utc_text(moment) -> str:
    """ISO 8601 in UTC with a Z, to the millisecond: how every timestamp is written."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Timestamp(fields.DateTime):
    """A timestamp as `utc_text` writes it."""

    def _serialize(self, value, attr, obj, **kwargs):  # marshmallow's documented hook for a custom field
        return None if value is None else utc_text(value)


class PlainText(validate.Regexp):
    """What JSON allows but UTF-8 and PostgreSQL cannot take: NUL and lone surrogates.

    A Regexp, so the OpenAPI document carries the NUL half as the field's
    `pattern`; the surrogate half is checked too but left out of the pattern,
    which no client's regex engine (nor schemathesis) can use with lone
    surrogates in it, and which no real text contains."""

    def __init__(self, pattern: str = r"^[^\x00]*$", error: str = "Contains a character that is not allowed."):
        super().__init__(pattern, error=error)

    def __call__(self, value: str) -> str:
        if any("\ud800" <= character <= "\udfff" for character in value):
            raise ValidationError(self.error)
        return super().__call__(value)


_is_plain_text = PlainText()
# What the e-mail validator accepts, in the shape the document can say: a top-level
# domain of two characters or more (JSON Schema's "email" format allows "a@b.c").
_is_email_shape = PlainText(r"^[^\x00@]+@[^\x00@]+\.[^\x00@.]{2,}$", error="Not a valid email address.")


@cache
def time_zone_names() -> frozenset[str]:
    """The IANA names the installed tz database holds: the one test of a time
    zone (ZoneInfo itself opens whatever file a name leads to, and a directory
    such as "Europe" or an over-long name raises OSError). "localtime" is the
    host's own setting, not a name."""
    return frozenset(available_timezones() - {"localtime"})


NOT_A_TIME_ZONE = "Not a known IANA time zone, such as Europe/Paris."


# -- requests ----------------------------------------------------------------

NEW_PASSWORD = [_is_plain_text, validate.Length(min=8, max=256)]


class SignUp(Schema):
    email = fields.Email(required=True, validate=[_is_email_shape, validate.Length(max=254)])
    password = fields.String(required=True, load_only=True, validate=NEW_PASSWORD)
    name = fields.String(load_default="", validate=[_is_plain_text, validate.Length(max=100)])

    @validates("email")
    def _key_fits(self, email: str, **_kwargs) -> None:
        """Case folding can lengthen an address (ß → ss); its key must fit as well."""
        if len(email_key(email)) > 254:
            raise ValidationError("Longer than 254 characters.")


class Credentials(Schema):
    email = fields.String(required=True, validate=[_is_plain_text, validate.Length(max=254)])
    password = fields.String(required=True, load_only=True, validate=[_is_plain_text, validate.Length(max=256)])


class ConfigurationChange(Schema):
    work_seconds = StrictInteger(validate=SECONDS)
    short_break_seconds = StrictInteger(validate=SECONDS)
    long_break_seconds = StrictInteger(validate=SECONDS)
    long_break_interval = StrictInteger(validate=validate.Range(min=1, max=12))
    auto_start_breaks = StrictBoolean()
    auto_start_work = StrictBoolean()
    # The zones as an enum: the document says exactly which names are accepted.
    timezone = fields.String(validate=validate.OneOf(sorted(time_zone_names()), error=NOT_A_TIME_ZONE))
    daily_goal = StrictInteger(validate=validate.Range(min=0, max=48),
                               metadata={"description": "Focus sessions a day; 0 = no goal."})


class NewCycle(Schema):
    pass


class NewSession(Schema):
    cycle_id = fields.String(validate=[_is_plain_text, validate.Length(max=64)])
    type = fields.String(validate=validate.OneOf(rules.SESSION_TYPES))
    task_id = fields.String(allow_none=True, validate=[_is_plain_text, validate.Length(max=64)], metadata={
        "description": "The task a focus session counts toward; null for none. Left out: the active task."})


class StatusChange(Schema):
    status = fields.String(required=True, validate=validate.OneOf(rules.SESSION_STATUSES))


class Page(Schema):
    """Query-string numbers arrive as text, so these are not StrictIntegers."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


# -- responses and events ----------------------------------------------------

class Configuration(ConfigurationChange):
    pass


class User(Schema):
    id = fields.String()
    email = fields.String()
    name = fields.String()
    created_at = Timestamp()
    configuration = fields.Nested(Configuration)


class Token(Schema):
    token = fields.String()
    token_type = fields.String()


class Cycle(Schema):
    id = fields.String()
    status = fields.String()
    completed_work_sessions = fields.Integer()
    long_break_interval = fields.Integer()
    next_session_type = fields.String()
    created_at = Timestamp()
    finished_at = Timestamp(allow_none=True)


class CycleList(Schema):
    items = fields.List(fields.Nested(Cycle))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


class Session(Schema):
    id = fields.String()
    cycle_id = fields.String()
    type = fields.String()
    status = fields.String()
    position = fields.Integer()
    duration_seconds = fields.Integer()
    remaining_seconds = fields.Float(metadata={"description": "Seconds left at `server_time`."})
    started_at = Timestamp()
    ends_at = Timestamp(allow_none=True, metadata={"description": "Null while paused."})
    paused_at = Timestamp(allow_none=True)
    completed_at = Timestamp(allow_none=True)
    cancelled_at = Timestamp(allow_none=True)
    server_time = Timestamp(metadata={"description": "The server's clock when this was written."})
    task_id = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    interruptions = fields.Dict(keys=fields.String(), values=fields.Integer(),
                                metadata={"example": {"internal": 1, "external": 0}})

    @pre_dump
    def as_of_now(self, session, **kwargs):
        now = utcnow()
        fields_now = {name: getattr(session, name, None) for name in self.fields if name != "server_time"}
        fields_now["remaining_seconds"] = rules.remaining_at(session, now)
        fields_now["server_time"] = now
        return fields_now

    def dump(self, obj, *, many=None):
        """What marshmallow's dump gives (tests/test_api.py holds the two equal),
        written out: a session is written in most answers and every event, and
        marshmallow's work for each field was most of the time a dump took."""
        if self.only or self.exclude:
            return super().dump(obj, many=many)
        if self.many if many is None else many:
            return [self._written_out(one) for one in obj]
        return self._written_out(obj)

    @staticmethod
    def _written_out(session) -> dict:
        now = utcnow()
        written = {name: getattr(session, name) for name in _SESSION_PLAIN}
        for name in _SESSION_TIMES:
            moment = getattr(session, name)
            written[name] = None if moment is None else utc_text(moment)
        written["remaining_seconds"] = float(rules.remaining_at(session, now))
        written["server_time"] = utc_text(now)
        return written


_SESSION_TIMES = tuple(name for name, field in Session._declared_fields.items()
                       if isinstance(field, Timestamp) and name != "server_time")
_SESSION_PLAIN = tuple(name for name in Session._declared_fields
                       if name not in (*_SESSION_TIMES, "server_time", "remaining_seconds"))


class SessionList(Schema):
    items = fields.List(fields.Nested(Session))


# One instance of each: dumping keeps no state on the schema, and building one
# costs more than the dump itself (every completion serialises a session).
_session, _cycle, _configuration = Session(), Cycle(), Configuration()


def session_json(session) -> dict:
    return _session.dump(session)


def cycle_json(cycle) -> dict:
    return _cycle.dump(cycle)


def configuration_json(user) -> dict:
    return _configuration.dump(user)


class ErrorBody(Schema):
    code = fields.String(metadata={"example": "invalid"})
    message = fields.String()
    field_messages = fields.Dict(
        data_key="fields", keys=fields.String(), values=fields.List(fields.String()),
        metadata={"description": "With 422: what is wrong with each field."},
    )


class Error(Schema):
    error = fields.Nested(ErrorBody)


# -- reports: statistics, export, calendar feed ------------------------------

_is_plausible_date = validate.Range(min=date(1900, 1, 1), max=date(2999, 12, 31))


class DateRange(Schema):
    """Local calendar dates, both included. Query strings: not strict types."""

    from_ = fields.Date(data_key="from", validate=_is_plausible_date, metadata={
        "description": "First local day (YYYY-MM-DD). Not after `to`, and at most 3,700 days before it: 422 otherwise."})
    to = fields.Date(validate=_is_plausible_date, metadata={"description": "Last local day (YYYY-MM-DD), included."})


class FeedQuery(Schema):
    days = fields.Integer(load_default=90, validate=validate.Range(min=1, max=400),
                          metadata={"description": "How many days back the feed reaches."})


class DayCount(Schema):
    date = fields.Date()
    focused_seconds = fields.Float()
    work_sessions = fields.Integer()


class HourCount(Schema):
    hour = fields.Integer(metadata={"description": "Local hour of the day the sessions started, 0..23."})
    focused_seconds = fields.Float()
    work_sessions = fields.Integer()


class Interruptions(Schema):
    internal = fields.Integer()
    external = fields.Integer()


class StatsTotals(Schema):
    focused_seconds = fields.Float()
    work_sessions = fields.Integer()
    active_days = fields.Integer()
    average_focused_seconds_per_active_day = fields.Float()
    interruptions = fields.Nested(Interruptions)


class Streak(Schema):
    current = fields.Integer(metadata={"description": "Days in a row, ending today or yesterday, the goal was met."})
    longest = fields.Integer(metadata={"description": "The longest run of days the goal was met within the range."})
    goal = fields.Integer(metadata={"description": "The daily goal the streaks are counted against (0: one session)."})


class TaskTime(Schema):
    task_id = fields.String(allow_none=True, metadata={"description": "Null: sessions with no task."})
    title = fields.String()
    focused_seconds = fields.Float()
    work_sessions = fields.Integer()


class TagTime(Schema):
    tag = fields.String()
    focused_seconds = fields.Float()
    work_sessions = fields.Integer()


class Estimates(Schema):
    tasks_done = fields.Integer(metadata={"description": "Tasks done in the range that had an estimate."})
    on_estimate = fields.Integer()
    under_estimate = fields.Integer(metadata={"description": "Done in fewer pomodoros than estimated."})
    over_estimate = fields.Integer()
    mean_ratio = fields.Float(allow_none=True, metadata={"description": "Mean of actual ÷ estimated pomodoros."})


class Stats(Schema):
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    timezone = fields.String()
    totals = fields.Nested(StatsTotals)
    days = fields.List(fields.Nested(DayCount))
    hours = fields.List(fields.Nested(HourCount))
    tasks = fields.List(fields.Nested(TaskTime))
    tags = fields.List(fields.Nested(TagTime))
    streak = fields.Nested(Streak)
    estimates = fields.Nested(Estimates)


class CalendarFeed(Schema):
    url = fields.String(metadata={"description": "The secret feed URL, shown this once."})

# -- tasks -------------------------------------------------------------------

class Title(fields.String):
    """A task title or tag: checked as sent (so the document's pattern and
    lengths say exactly what is accepted), then stored trimmed."""

    def deserialize(self, *args, **kwargs):
        value = super().deserialize(*args, **kwargs)
        return value.strip() if isinstance(value, str) else value


class Tags(fields.List):
    """Tags are unique ignoring case: "Work" sent again as "work" is the same
    tag, kept once, as first written."""

    def deserialize(self, *args, **kwargs):
        tags = super().deserialize(*args, **kwargs)
        if not isinstance(tags, list):
            return tags
        seen = set()
        return [tag for tag in tags if not (tag.casefold() in seen or seen.add(tag.casefold()))]


class HasText(PlainText):
    """Plain text with something in it besides spaces (one pattern, for the document)."""

    def __init__(self):
        super().__init__(r"^[^\x00]*[^\x00\s][^\x00]*$", error="Must contain more than spaces.")

    def __call__(self, value: str) -> str:
        _is_plain_text(value)  # a NUL is refused as such, not as "only spaces"
        return super().__call__(value)


_has_text = HasText()
TASK_TITLE = [_has_text, validate.Length(min=1, max=200)]
TASK_NOTES = [_is_plain_text, validate.Length(max=10000)]
TASK_TAGS = validate.Length(max=10)
TASK_TAG = [_has_text, validate.Length(min=1, max=40)]
TAGS_DOC = {"description": "Trimmed; a tag repeated in another case is kept once, as first written."}
ESTIMATE = validate.Range(min=0, max=99)


class NewTask(Schema):
    title = Title(required=True, validate=TASK_TITLE)
    notes = fields.String(load_default="", validate=TASK_NOTES)
    tags = Tags(Title(validate=TASK_TAG), load_default=list, validate=TASK_TAGS, metadata=TAGS_DOC)
    estimated_pomodoros = StrictInteger(load_default=0, validate=ESTIMATE)
    active = StrictBoolean(load_default=False)


class TaskChange(Schema):
    title = Title(validate=TASK_TITLE)
    notes = fields.String(validate=TASK_NOTES)
    tags = Tags(Title(validate=TASK_TAG), validate=TASK_TAGS, metadata=TAGS_DOC)
    estimated_pomodoros = StrictInteger(validate=ESTIMATE)
    done = StrictBoolean()
    active = StrictBoolean(metadata={"description": "true: the task new focus sessions count toward."})
    position = StrictInteger(validate=validate.Range(min=1, max=100000),
                             metadata={"description": "1-based place in the list; the others move to make room."})


class TaskQuery(Schema):
    state = fields.String(load_default="open", validate=validate.OneOf(("open", "done", "all")))


class Task(Schema):
    id = fields.String()
    title = fields.String()
    notes = fields.String()
    tags = fields.List(fields.String())
    estimated_pomodoros = fields.Integer()
    completed_pomodoros = fields.Integer(metadata={"description": "Its completed focus sessions."})
    focused_seconds = fields.Float(metadata={"description": "The time its completed focus sessions ran."})
    done = fields.Boolean()
    done_at = Timestamp(allow_none=True)
    active = fields.Boolean()
    position = fields.Integer()
    created_at = Timestamp()
    updated_at = Timestamp()


# -- integrations: personal API tokens and webhooks ----------------------------

def _is_user_event(name: str) -> None:
    from .announcements import USER_EVENTS

    if name not in USER_EVENTS:
        raise ValidationError(f"Not an event: one of {', '.join(USER_EVENTS)}.")


def _is_webhook_url(url: str) -> None:
    """The address rules, checked when the URL is saved (and again at each send)."""
    from .webhook_rules import AddressRefused
    from .webhooks import resolve

    try:
        resolve(url)
    except AddressRefused as refused:
        raise ValidationError(str(refused)) from None


class NewApiToken(Schema):
    name = fields.String(required=True, validate=[_is_plain_text, validate.Length(min=1, max=100)])
    expires_in_days = StrictInteger(allow_none=True, validate=validate.Range(min=1, max=3650),
                                    metadata={"description": "Days until it stops working; omit or null for never."})


class ApiToken(Schema):
    id = fields.String()
    name = fields.String()
    created_at = Timestamp()
    last_used_at = Timestamp(allow_none=True, metadata={"description": "Noted to the minute."})
    expires_at = Timestamp(allow_none=True)


class NewApiTokenAnswer(ApiToken):
    token = fields.String(metadata={"description": "The secret: shown this once."})
    token_type = fields.String()


class ApiTokenList(Schema):
    items = fields.List(fields.Nested(ApiToken))


WEBHOOK_EVENTS = fields.List(
    fields.String(validate=_is_user_event), allow_none=True, validate=validate.Length(max=50),
    metadata={"description": "The events to send; omitted, empty or null: all of them."},
)


class WebhookChange(Schema):
    url = fields.String(validate=[_is_plain_text, validate.Length(min=1, max=2048), _is_webhook_url],
                        metadata={"description": "https, to a public address."})
    events = WEBHOOK_EVENTS
    description = fields.String(validate=[_is_plain_text, validate.Length(max=500)])
    enabled = StrictBoolean()


class NewWebhook(WebhookChange):
    url = fields.String(required=True, validate=[_is_plain_text, validate.Length(min=1, max=2048), _is_webhook_url],
                        metadata={"description": "https, to a public address."})
    description = fields.String(load_default="", validate=[_is_plain_text, validate.Length(max=500)])

    class Meta:
        exclude = ("enabled",)


class Webhook(Schema):
    id = fields.String()
    url = fields.String()
    events = fields.List(fields.String(), allow_none=True, metadata={"description": "null: all events."})
    description = fields.String()
    enabled = fields.Boolean()
    disabled_reason = fields.String(allow_none=True, metadata={"description": "Why it was disabled, if it was by us."})
    previous_secret_until = Timestamp(allow_none=True, metadata={"description": "Until then the previous secret signs too."})
    created_at = Timestamp()
    updated_at = Timestamp()


class Plan(Schema):
    pomodoros_left = fields.Integer()
    focus_seconds_left = fields.Float()
    finish_at = Timestamp(allow_none=True, metadata={"description": "Null when nothing is left to do."})


class TaskList(Schema):
    items = fields.List(fields.Nested(Task))
    plan = fields.Nested(Plan)


class SessionPage(SessionList):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


class WebhookWithSecret(Webhook):
    secret = fields.String(metadata={"description": "whsec_…: shown this once."})


class WebhookList(Schema):
    items = fields.List(fields.Nested(Webhook))


class WebhookDelivery(Schema):
    id = fields.String(metadata={"description": "The webhook-id header, the same on every attempt."})
    event = fields.String()
    status = fields.String(metadata={"description": "pending, delivered or failed."})
    attempts = fields.Integer()
    next_attempt_at = Timestamp(allow_none=True)
    last_attempt_at = Timestamp(allow_none=True)
    response_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    duration_ms = fields.Integer(allow_none=True)
    response_body = fields.String(allow_none=True, metadata={"description": "The first 1 KB of the last answer."})
    created_at = Timestamp()


class WebhookDeliveryList(Schema):
    items = fields.List(fields.Nested(WebhookDelivery))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


class SessionChange(Schema):
    task_id = fields.String(allow_none=True, validate=[_is_plain_text, validate.Length(max=64)])
    note = fields.String(allow_none=True, validate=[_is_plain_text, validate.Length(max=2000)])


class Extension(Schema):
    seconds = StrictInteger(required=True, validate=validate.Range(min=1, max=3600))


class Interruption(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(("internal", "external")))


_task, _plan = Task(), Plan()


def task_json(task) -> dict:
    return _task.dump(task)


def plan_json(plan) -> dict:
    return _plan.dump(plan)


def task_rows_json(rows) -> list[dict]:
    """`Task` dumps of many table rows at once, for `GET /tasks`: the same JSON
    as `task_json` (tests/test_tasks_api.py holds them equal) at a fraction of
    the cost, since marshmallow's per-field work dominates a list of hundreds.
    Each row is read as a plain tuple (attribute access on a row costs more
    than the rest of its dump)."""
    if not rows:
        return []
    columns = rows[0]._fields
    plain = [(name, columns.index(name)) for name in _task.fields if name not in _TIMES]
    times = [(name, columns.index(name)) for name in _TIMES]
    items = []
    for row in rows:
        values = tuple(row)
        item = {name: values[at] for name, at in plain}
        for name, at in times:
            item[name] = None if values[at] is None else utc_text(values[at])
        items.append(item)
    return items


_TIMES = ("done_at", "created_at", "updated_at")


class Queued(Schema):
    delivery_id = fields.String()


# -- hardening: the password change (a page form, validated here like the API's bodies) --

class PasswordChange(Schema):
    current_password = fields.String(required=True, load_only=True, validate=validate.Length(max=256))
    new_password = fields.String(required=True, load_only=True, validate=NEW_PASSWORD)
