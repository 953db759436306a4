"""What we know: read models fed from the contexts' event logs, with their processed
positions recorded in the same transaction as their rows."""
