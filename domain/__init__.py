"""What things are and what may happen to them: aggregates and their lifecycles (pure, no I/O)."""
