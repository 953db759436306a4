"""One router per resource; each handler parses, calls one application method, and shapes the reply."""
