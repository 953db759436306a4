"""Where a demand or a service request is: a point (lat, long), an address, or the id of an
address a city's register knows. All optional; Open311 clients send at least one of them."""
import math

from domain.errors import ValidationError

FIELDS = ("lat", "long", "address_string", "address_id")
ADDRESS_LIMIT, ADDRESS_ID_LIMIT = 500, 64


def check_location(location: dict | None) -> dict | None:
    """The location's known fields, checked (a point has both coordinates, within range), or None."""
    if not location:
        return None
    if not isinstance(location, dict) or set(location) - set(FIELDS):
        raise ValidationError(f"a location has only {', '.join(FIELDS)}")
    found = {k: v for k, v in location.items() if v is not None}
    if ("lat" in found) != ("long" in found):
        raise ValidationError("a point needs both lat and long")
    for name, limit in (("lat", 90), ("long", 180)):
        value = found.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value) or abs(value) > limit):
            raise ValidationError(f"{name} must be a number from -{limit} to {limit}")
    for name, limit in (("address_string", ADDRESS_LIMIT), ("address_id", ADDRESS_ID_LIMIT)):
        value = found.get(name)
        if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > limit):
            raise ValidationError(f"{name} must be 1 to {limit} characters")
    return {k: float(v) if k in ("lat", "long") else v.strip() for k, v in found.items()} or None
