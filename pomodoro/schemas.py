"""One declaration per body: it validates requests, shapes responses and
events, and writes the OpenAPI document."""
from datetime import UTC
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import Schema, ValidationError, fields, pre_dump, validate

from . import rules
from .models import utcnow

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


# What JSON allows but UTF-8 and PostgreSQL cannot take: NUL and lone surrogates.
# A Regexp, so the OpenAPI document carries it as the field's `pattern`.
_is_plain_text = validate.Regexp(r"^[^\x00\ud800-\udfff]*$", error="Contains a character that is not allowed.")


def _is_time_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError("Not a known IANA time zone, such as Europe/Paris.") from None


# -- requests ----------------------------------------------------------------

class SignUp(Schema):
    email = fields.Email(required=True, validate=[_is_plain_text, validate.Length(max=254)])
    password = fields.String(required=True, load_only=True, validate=[_is_plain_text, validate.Length(min=8, max=256)])
    name = fields.String(load_default="", validate=[_is_plain_text, validate.Length(max=100)])


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
    timezone = fields.String(validate=[_is_plain_text, validate.Length(max=64), _is_time_zone])


class NewCycle(Schema):
    pass


class NewSession(Schema):
    cycle_id = fields.String(validate=[_is_plain_text, validate.Length(max=64)])
    type = fields.String(validate=validate.OneOf(rules.SESSION_TYPES))


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

    @pre_dump
    def as_of_now(self, session, **kwargs):
        now = utcnow()
        fields_now = {name: getattr(session, name, None) for name in self.fields if name != "server_time"}
        fields_now["remaining_seconds"] = rules.remaining_at(session, now)
        fields_now["server_time"] = now
        return fields_now


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
