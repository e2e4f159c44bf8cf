"""Fast tests: pure functions, definitions loading, single in-memory Dagster checks; no server, no model. `pytest tests/unit`."""
