"""Stored events stay decodable: every event class keeps its topic (module and class path) and
its attribute names, and declares its metadata (domain/base.py). A renamed class or field makes
the stored history unreadable, so it fails here first (an upcaster would be needed)."""
import dataclasses

from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import get_topic, resolve_topic

from domain import booking, claim, demand, registry, schedule, service_item, service_request, venue
from domain.base import Stamped

HEADER = {"originator_id", "originator_version", "timestamp", "originator_topic", "meta"}
TOPICS = {
    "domain.booking:Booking.Approved": ('status',),
    "domain.booking:Booking.Cancelled": ('reason', 'status', 'was'),
    "domain.booking:Booking.CheckedIn": ('status',),
    "domain.booking:Booking.Completed": ('status',),
    "domain.booking:Booking.Expired": ('status',),
    "domain.booking:Booking.MarkedNoShow": ('status',),
    "domain.booking:Booking.Rejected": ('reason', 'status'),
    "domain.booking:Booking.Requested": ('attendees', 'ends_at', 'owner_id', 'purpose', 'requester_id', 'requester_role', 'starts_at', 'status', 'venue_id'),
    "domain.claim:Claim.Cancelled": ('reason', 'status', 'was'),
    "domain.claim:Claim.CheckedIn": ('status',),
    "domain.claim:Claim.Completed": ('hours', 'status'),
    "domain.claim:Claim.Confirmed": ('status',),
    "domain.claim:Claim.Declined": ('reason', 'status'),
    "domain.claim:Claim.Made": ('claimant_id', 'claimant_role', 'demand_id', 'headcount', 'note', 'owner_id', 'status'),
    "domain.claim:Claim.MarkedNoShow": ('status',),
    "domain.claim:Claim.Verified": ('rating', 'status'),
    "domain.claim:Claim.Waitlisted": ('status',),
    "domain.demand:Demand.Approved": ('status',),
    "domain.demand:Demand.ClaimDropped": ('claim_id',),
    "domain.demand:Demand.ClaimNoted": ('claim_id', 'claim_status', 'claimant', 'headcount'),
    "domain.demand:Demand.Closed": ('feedback', 'rating', 'status'),
    "domain.demand:Demand.Expired": ('status',),
    "domain.demand:Demand.Filled": ('status',),
    "domain.demand:Demand.Fulfilled": ('status',),
    "domain.demand:Demand.Posted": ('auto_confirm', 'category', 'claim_deadline', 'description', 'ends_at', 'grid_id', 'location', 'needed', 'organisation_id', 'starts_at', 'title'),
    "domain.demand:Demand.Rejected": ('reason', 'status'),
    "domain.demand:Demand.Reopened": ('status',),
    "domain.demand:Demand.Revised": ('category', 'claim_deadline', 'description', 'ends_at', 'needed', 'starts_at', 'title'),
    "domain.demand:Demand.Started": ('status',),
    "domain.demand:Demand.Submitted": ('status',),
    "domain.demand:Demand.Withdrawn": ('reason', 'status'),
    "domain.registry:Department.Registered": ('code', 'name'),
    "domain.registry:Grid.Registered": ('code', 'district', 'name', 'type'),
    "domain.registry:Member.Erased": (),
    "domain.registry:Member.Registered": ('flowing', 'grid_id', 'name', 'organisation_id'),
    "domain.registry:Organisation.Registered": ('district', 'grid_id', 'kind', 'name'),
    "domain.schedule:VenueDay.Opened": ('day', 'venue_id'),
    "domain.schedule:VenueDay.Released": ('booking_id',),
    "domain.schedule:VenueDay.Reserved": ('booking_id', 'ends_at', 'starts_at'),
    "domain.service_item:ServiceItem.Discarded": ('status',),
    "domain.service_item:ServiceItem.Drafted": ('content', 'provider_id', 'provider_role'),
    "domain.service_item:ServiceItem.Published": ('status',),
    "domain.service_item:ServiceItem.Resumed": ('status',),
    "domain.service_item:ServiceItem.Retired": ('reason', 'status'),
    "domain.service_item:ServiceItem.Returned": ('reason', 'status'),
    "domain.service_item:ServiceItem.RevisionPublished": ('content_version',),
    "domain.service_item:ServiceItem.RevisionStaged": ('revision',),
    "domain.service_item:ServiceItem.Submitted": ('status',),
    "domain.service_item:ServiceItem.Suspended": ('reason', 'status'),
    "domain.service_request:ServiceRequest.Accepted": ('at', 'status'),
    "domain.service_request:ServiceRequest.Evaluated": ('at', 'feedback', 'rating', 'status'),
    "domain.service_request:ServiceRequest.Filed": ('applicant_id', 'detail', 'handler_id', 'handler_role', 'item_id', 'location', 'promised_days', 'subject'),
    "domain.service_request:ServiceRequest.NotAccepted": ('reason', 'status'),
    "domain.service_request:ServiceRequest.Paused": ('consumed', 'reason', 'status'),
    "domain.service_request:ServiceRequest.Reopened": ('at', 'reason', 'status'),
    "domain.service_request:ServiceRequest.Resolved": ('consumed', 'note', 'outcome', 'status'),
    "domain.service_request:ServiceRequest.Resubmitted": ('detail', 'status'),
    "domain.service_request:ServiceRequest.Resumed": ('at', 'status'),
    "domain.service_request:ServiceRequest.Returned": ('reason', 'status'),
    "domain.service_request:ServiceRequest.SlaBreached": ('used',),
    "domain.service_request:ServiceRequest.SlaWarning": ('used',),
    "domain.service_request:ServiceRequest.Started": ('status',),
    "domain.service_request:ServiceRequest.Transferred": ('department_id', 'reason'),
    "domain.service_request:ServiceRequest.Withdrawn": ('consumed', 'reason', 'status'),
    "domain.venue:Venue.Resumed": ('status',),
    "domain.venue:Venue.Retired": ('reason', 'status'),
    "domain.venue:Venue.Shared": ('address', 'blackouts', 'cancel_lock_hours', 'capacity', 'closes_at', 'grid_id', 'max_advance_days', 'min_notice_hours', 'name', 'opens_at', 'organisation_id', 'requires_approval'),
    "domain.venue:Venue.Suspended": ('reason', 'status'),
}


def event_classes() -> dict[str, type]:
    found = {}
    for module in (booking, claim, demand, registry, schedule, service_item, service_request, venue):
        for aggregate in vars(module).values():
            if isinstance(aggregate, type) and issubclass(aggregate, Stamped) and aggregate.__module__ == module.__name__:
                for name, value in vars(aggregate).items():
                    if isinstance(value, type) and issubclass(value, CanMutateAggregate) and name not in (
                            "Event", "Created", "Moved", "Reasoned", "Cleared"):  # bases, never recorded
                        found[get_topic(value)] = value
    return found


def test_every_event_keeps_its_topic_and_attribute_names():
    found = {topic: tuple(sorted(f.name for f in dataclasses.fields(cls) if f.name not in HEADER))
             for topic, cls in event_classes().items()}
    assert found == TOPICS


def test_every_topic_resolves_and_every_event_declares_its_metadata():
    for topic in TOPICS:
        cls = resolve_topic(topic)
        assert issubclass(cls, Stamped.Event), topic
        assert "meta" in {f.name for f in dataclasses.fields(cls)}, topic
