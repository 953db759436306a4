"""Every lifecycle by its wire name, for the workflows endpoints and `linli workflows show`."""
from domain import claim, demand

LIFECYCLES = {lc.name: lc for lc in (demand.LIFECYCLE, claim.LIFECYCLE)}
