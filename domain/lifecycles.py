"""Every lifecycle by its wire name, for the workflows endpoints and `linli workflows show`."""
from domain import booking, claim, demand, venue

LIFECYCLES = {lc.name: lc for lc in (demand.LIFECYCLE, claim.LIFECYCLE, venue.LIFECYCLE, booking.LIFECYCLE)}
