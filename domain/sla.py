"""The promised-time clock (承诺时限) of a service request, on working days.

Working time runs Monday to Friday (whole local days, UTC+8) and stands still on Saturdays and
Sundays. We have no calendar of public holidays and make-up workdays (节假日 / 调休), so none
are applied; `is_working_day` is the one place to add them. A request's budget is its item's
promised_days in working days; the clock runs from acceptance, stands still while the request
awaits the applicant, and stops at resolution. Warning at 75% of the budget, breach at 100%.
"""
from datetime import datetime, timedelta

from domain.city import CITY_TZ

DAY = 86_400
WARNING_SHARE = 0.75


def is_working_day(moment: datetime) -> bool:
    return moment.astimezone(CITY_TZ).weekday() < 5


def _next_midnight(moment: datetime) -> datetime:
    local = moment.astimezone(CITY_TZ)
    return (local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1))


def working_seconds(start: datetime, end: datetime) -> float:
    """Working time between two instants (negative when end is before start)."""
    if end < start:
        return -working_seconds(end, start)
    total, cursor = 0.0, start
    while cursor < end:
        boundary = min(_next_midnight(cursor), end)
        if is_working_day(cursor):
            total += (boundary - cursor).total_seconds()
        cursor = boundary
    return total


def add_working_seconds(start: datetime, seconds: float) -> datetime:
    """The instant at which `seconds` of working time have run from `start`."""
    cursor, left = start, seconds
    while True:
        boundary = _next_midnight(cursor)
        if is_working_day(cursor):
            span = (boundary - cursor).total_seconds()
            if left <= span:
                return (cursor + timedelta(seconds=left)).astimezone(CITY_TZ)
            left -= span
        cursor = boundary


def budget(promised_days: int) -> float:
    return promised_days * DAY


def thresholds(promised_days: int, consumed: float, running_since: datetime | None) -> tuple[datetime, datetime] | None:
    """(warning_at, due_at) of a running clock; None while it stands still."""
    if running_since is None:
        return None
    total = budget(promised_days)
    return (add_working_seconds(running_since, max(0.0, WARNING_SHARE * total - consumed)),
            add_working_seconds(running_since, max(0.0, total - consumed)))


def state(accepted: bool, stopped: bool, running: bool, warned: bool, breached: bool) -> str | None:
    """Where the clock stands: None before acceptance, then stopped, paused, or running on time,
    warned or breached. The aggregate and the queue's rows both say it this way."""
    if not accepted:
        return None
    if stopped:
        return "stopped"
    if not running:
        return "paused"
    return "breached" if breached else "warning" if warned else "on_time"
