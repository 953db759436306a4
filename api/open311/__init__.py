"""Open311 GeoReport v2 under /open311/v2: the civic standard's clients list services, file
requests and follow them (docs/open311.md)."""
