"""场地: the shared venues, a venue's week (free time and bookings by day) and the booking form,
whose refusals (notice, advance, open hours, blackout, capacity) are shown in words."""
from datetime import date, datetime, timedelta
from uuid import UUID

from fastapi import APIRouter, Request

from api.console.forms import number, page_number
from api.console.labels import STATUS, problem_words
from api.console.pages import go, page_api, posted, render
from domain.city import CITY_TZ

router = APIRouter(prefix="/console/venues", include_in_schema=False)
WEEKDAYS = "一二三四五六日"


@router.get("")
async def venue_list(request: Request):
    current, api = await page_api(request)
    page = page_number(request.query_params.get("page"))
    listed = (await api.get("/venues", page=page, page_size=20)).body
    return render(request, current, "venues.html", venues=listed.get("items", []), total=listed.get("total", 0),
                  page=page, pages=max(1, -(-listed.get("total", 0) // 20)))


def _monday(raw: str | None) -> date:
    try:
        day = date.fromisoformat(raw) if raw else datetime.now(CITY_TZ).date()
    except ValueError:
        day = datetime.now(CITY_TZ).date()
    return day - timedelta(days=day.weekday())


@router.get("/{venue_id}")
async def week(venue_id: UUID, request: Request):
    current, api = await page_api(request)
    found = await api.get(f"/venues/{venue_id}")
    if not found.ok:
        return render(request, current, "missing.html", 404, problem=found.body)
    monday = _monday(request.query_params.get("week"))
    bookings = []
    if current.actor:
        for page in (1, 2):
            got = (await api.get(f"/venues/{venue_id}/bookings", page=page, page_size=100)).body.get("items", [])
            bookings += got
            if len(got) < 100:
                break
    days = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        free = (await api.get(f"/venues/{venue_id}/availability", date=day.isoformat())).body.get("free", [])
        held = [b for b in bookings if datetime.fromisoformat(b["starts_at"]).astimezone(CITY_TZ).date() == day]
        entries = sorted([("free", f) for f in free] + [("booking", b) for b in held],
                         key=lambda entry: datetime.fromisoformat(entry[1]["starts_at"]))
        days.append({"date": day, "weekday": WEEKDAYS[offset], "entries": entries})
    return render(request, current, "venue.html", venue=found.body, days=days, monday=monday,
                  previous=(monday - timedelta(days=7)).isoformat(), following=(monday + timedelta(days=7)).isoformat(),
                  can_book=current.role in ("member", "org") and found.body["status"] == "active")


@router.post("/{venue_id}/bookings")
async def book(venue_id: UUID, request: Request):
    checked = await posted(request)
    if not isinstance(checked, tuple):
        return checked
    _, api, form = checked
    day, where = form.get("date", ""), f"/console/venues/{venue_id}"
    try:
        starts = datetime.fromisoformat(f"{day}T{form.get('starts', '')}").replace(tzinfo=CITY_TZ)
        ends = datetime.fromisoformat(f"{day}T{form.get('ends', '')}").replace(tzinfo=CITY_TZ)
    except ValueError:
        return go(request, where, "error", "输入有误：请填写日期与开始、结束时间")
    made = await api.post(f"/venues/{venue_id}/bookings",
                          {"starts_at": starts.isoformat(), "ends_at": ends.isoformat(),
                           "attendees": number(form.get("attendees")), "purpose": form.get("purpose", "")},
                          key=form.get("nonce"))
    where = f"{where}?week={day}"
    if not made.ok:
        return go(request, where, "error", f"预约未成功，{problem_words(made.body)}")
    return go(request, where, "ok", f"预约已提交（{STATUS.get(made.body['status'], made.body['status'])}）")
