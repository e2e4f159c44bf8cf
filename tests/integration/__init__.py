"""Real Dagster `materialize` into DuckDB files, the simulator over HTTP on 127.0.0.1, short subprocesses. `pytest tests/integration`."""
