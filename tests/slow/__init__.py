"""Training, vLLM, the browser, kill -9, PostgreSQL/DuckLake, scale-out, `transformers serve`, full CLI builds. `pytest tests/slow`."""
