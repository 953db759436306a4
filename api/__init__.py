"""How the world talks to us: the FastAPI app, auth, errors, the CLI, settings and wiring."""
