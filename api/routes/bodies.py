"""Request bodies shared by several routers. Extra fields are allowed (DESIGN §4); types are strict
so a string where a number belongs is a 422, not a silent coercion."""
from datetime import date, datetime
from typing import Annotated

from pydantic import (AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictFloat,
                      StrictInt)

from domain import bounds
from domain.errors import ValidationError

Reason = Annotated[str, Field(max_length=2000)]


def _instant(value: datetime) -> datetime:
    try:
        return bounds.instant(value, "a datetime")
    except ValidationError as error:
        raise ValueError(str(error)) from None


def _day(value: date) -> date:
    try:
        return bounds.day(value, "a date")
    except ValidationError as error:
        raise ValueError(str(error)) from None


# Every datetime and date a request carries, in bodies and queries (domain/bounds.py says why).
Instant = Annotated[AwareDatetime, AfterValidator(_instant),
                    Field(description=f"ISO 8601 with an offset, {bounds.WINDOW}")]
Day = Annotated[date, AfterValidator(_day), Field(description=f"a date {bounds.WINDOW}")]


class ActionBody(BaseModel):
    """The fields any transition may take: reason, rating, hours, feedback, and a revision's details."""

    model_config = ConfigDict(extra="allow")
    reason: Reason | None = None
    rating: StrictInt | None = None
    feedback: Reason | None = None
    hours: StrictFloat | StrictInt | None = None
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None
    category: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    needed: Annotated[StrictInt, Field(ge=1, le=10_000)] | None = None
    claim_deadline: Instant | None = None
    starts_at: Instant | None = None
    ends_at: Instant | None = None

    def fields(self) -> dict:
        """Only what the caller sent, so a command sees its own defaults for the rest."""
        return {k: getattr(self, k) for k in self.model_fields_set if k in type(self).model_fields}


class Located(BaseModel):
    """Where a create happens (optional; Open311 clients always send one, domain/place.py)."""

    model_config = ConfigDict(extra="allow")
    lat: Annotated[StrictFloat | StrictInt, Field(ge=-90, le=90)] | None = None
    long: Annotated[StrictFloat | StrictInt, Field(ge=-180, le=180)] | None = None
    address_string: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    address_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None

    def location(self) -> dict | None:
        return {k: getattr(self, k) for k in Located.model_fields if getattr(self, k) is not None} or None


class NewDemand(Located):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=5000)] = ""
    category: Annotated[str, Field(min_length=1, max_length=64)]
    grid_id: Annotated[str, Field(min_length=1, max_length=64)]
    needed: Annotated[StrictInt, Field(ge=1, le=10_000)]
    claim_deadline: Instant
    starts_at: Instant
    ends_at: Instant
    auto_confirm: StrictBool = False
    organisation_id: Annotated[str, Field(max_length=64)] | None = None


class NewClaim(BaseModel):
    model_config = ConfigDict(extra="allow")
    headcount: Annotated[StrictInt, Field(ge=1, le=1000)] = 1
    note: Annotated[str, Field(max_length=500)] = ""
