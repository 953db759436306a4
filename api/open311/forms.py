"""Reading what Open311 clients send: query strings and form-encoded bodies, with refusals in
the spec's words (400) before anything is stored."""
import math
import re
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from api.open311.render import Open311Error
from domain import bounds
from domain.errors import ValidationError
from domain.place import check_location
from projections.projector import iso

MAX_FIELDS = 200
DESCRIPTION_LIMIT = 4000
WHOLE = re.compile(r"[0-9]{1,9}")
ATTRIBUTE = re.compile(r"attribute\[(.{1,64})\]")
SPAN = timedelta(days=90)
MOST_REQUESTS = 1000


def form(body: bytes, query: dict[str, str]) -> dict[str, str]:
    """The fields of a form-encoded body (the query string's too, which the body overrides)."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS,
                          strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise Open311Error(400, "the body must be application/x-www-form-urlencoded UTF-8, "
                                f"at most {MAX_FIELDS} fields") from None
    if any("\x00" in text for pair in pairs for text in pair):  # %00 passes the gate's raw check
        raise Open311Error(400, "text must not contain NUL (U+0000) characters")
    return {**query, **dict(pairs)}


def path_id(value: str) -> str | None:
    """An id or token from the path, None when it cannot name anything (too long, a NUL)."""
    return value if len(value) <= 64 and "\x00" not in value else None


def attributes(fields: dict[str, str]) -> dict[str, str]:
    """`attribute[code]=value` pairs by code."""
    return {m.group(1): v for k, v in fields.items() if (m := ATTRIBUTE.fullmatch(k))}


def when(value: str, name: str) -> datetime:
    """A W3C datetime (2010-01-01T00:00:00Z); one without an offset is refused."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Open311Error(400, f"{name} must be a W3C datetime such as 2010-01-01T00:00:00Z") from None
    try:
        return bounds.instant(parsed, name)
    except ValidationError as error:
        raise Open311Error(400, str(error)) from None


def whole(value: str, name: str) -> int:
    if not WHOLE.fullmatch(value.strip()):
        raise Open311Error(400, f"{name} must be a whole number")
    return int(value)


def _coordinate(value: str | None, name: str) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise Open311Error(400, f"{name} must be a number")
    return number


def location(fields: dict[str, str]) -> dict:
    """lat and long, address_string or address_id: at least one of them is required."""
    given = {"lat": _coordinate(fields.get("lat"), "lat"), "long": _coordinate(fields.get("long"), "long"),
             "address_string": fields.get("address_string") or None, "address_id": fields.get("address_id") or None}
    try:
        found = check_location(given)
    except ValidationError as error:
        raise Open311Error(400, str(error)) from None
    if not found:
        raise Open311Error(400, "a location is required: lat and long, address_string or address_id")
    return found


def description(fields: dict[str, str]) -> str:
    text = fields.get("description", "")
    if len(text) > DESCRIPTION_LIMIT:
        raise Open311Error(400, f"description must be at most {DESCRIPTION_LIMIT:,} characters")
    return text


def listed(value: str | None, name: str, most: int) -> list[str] | None:
    """A comma-delimited list (None when the parameter is absent)."""
    if value is None:
        return None
    items = [part.strip() for part in value.split(",") if part.strip()]
    if len(items) > most:
        raise Open311Error(400, f"{name} lists at most {most:,} values")
    return items


def span(query: dict[str, str], now: datetime) -> tuple[str, str]:
    """start_date and end_date as stored instants; at most 90 days apart, the last 90 by default."""
    start = when(query["start_date"], "start_date") if query.get("start_date") else None
    end = when(query["end_date"], "end_date") if query.get("end_date") else None
    if start is None and end is None:
        end = now
    start = start if start is not None else end - SPAN
    end = end if end is not None else start + SPAN
    if end < start:
        raise Open311Error(400, "end_date must not be before start_date")
    if end - start > SPAN:
        raise Open311Error(400, "start_date and end_date may not span more than 90 days")
    return iso(start), iso(end)


def paging(query: dict[str, str]) -> tuple[int, int]:
    """The paging extension's `page` and `page_size` as a limit and an offset."""
    page = whole(query.get("page", "1"), "page")
    size = whole(query.get("page_size", str(MOST_REQUESTS)), "page_size")
    if not (1 <= page <= 100_000 and 1 <= size <= MOST_REQUESTS):
        raise Open311Error(400, f"page is from 1 to 100,000 and page_size from 1 to {MOST_REQUESTS:,}")
    return size, (page - 1) * size
