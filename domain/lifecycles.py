"""Every lifecycle by its wire name, for the workflows endpoints and `linli workflows show`."""
from domain import booking, claim, demand, service_item, service_request, venue

LIFECYCLES = {lc.name: lc for lc in (demand.LIFECYCLE, claim.LIFECYCLE, venue.LIFECYCLE, booking.LIFECYCLE,
                                     service_item.LIFECYCLE, service_request.LIFECYCLE)}
