"""邻里工作台: the server-rendered Chinese console at `/` (docs/console.md)."""
