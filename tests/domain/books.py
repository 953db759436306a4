"""Every lifecycle's book of specs."""
from tests.domain.demands import claims, demands
from tests.domain.services import items, requests
from tests.domain.venues import bookings, venues

BOOKS = [demands, claims, venues, bookings, items, requests]
