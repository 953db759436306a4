"""The city's local time: Fuzhou is UTC+8 all year (no daylight saving)."""
from datetime import timedelta, timezone

CITY_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
