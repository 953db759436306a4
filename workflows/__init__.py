"""How things happen over time: one eventsourcing Application per context, the engine that runs
every command, the policies that react to events, and the timers that fire deadlines."""
