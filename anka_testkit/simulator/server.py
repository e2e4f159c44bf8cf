"""Serving the simulator on 127.0.0.1: in-process in a background thread (:class:`SimulatorServer`, for
tests and the gateway's ``simulator`` backend) or as a process (:func:`main`, the ``anka-simulator`` CLI)."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette

from anka_testkit.simulator.app import DEFAULT_MODELS, SimulatorState, create_app
from anka_testkit.simulator.faults import FaultConfig, Latency

DEFAULT_PORT = 8321


class _UvicornServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, state: SimulatorState, announce: bool = False) -> None:
        super().__init__(config)
        self._state = state
        self._announce = announce

    def bound_port(self) -> int:
        return int(self.servers[0].sockets[0].getsockname()[1])

    async def startup(self, sockets=None) -> None:  # type: ignore[override]
        await super().startup(sockets=sockets)
        if self._announce and self.started:
            print(
                f"ANKA simulator listening on http://{self.config.host}:{self.bound_port()}/v1",
                flush=True,
            )

    def handle_exit(self, sig, frame) -> None:  # type: ignore[override]
        self._state.cancel_pending()
        super().handle_exit(sig, frame)


def _uvicorn_config(app: Starlette, host: str, port: int, *, log_config: Any = None, log_level: str = "warning"):
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=log_config,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
        backlog=4096,
    )


class SimulatorServer:
    """The simulator running in a background thread of this process (for tests).

    ``with SimulatorServer(faults=FaultConfig(...), port=0) as sim:`` starts it on a free port;
    ``sim.base_url`` is ``http://127.0.0.1:PORT/v1``.
    """

    def __init__(
        self,
        faults: FaultConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        models: Sequence[str] = DEFAULT_MODELS,
        startup_timeout: float = 15.0,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.startup_timeout = startup_timeout
        self.state = SimulatorState(faults, models)
        self.app = create_app(self.state)
        self._server: _UvicornServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._error: BaseException | None = None

    # -- lifecycle --
    def start(self) -> SimulatorServer:
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        config = _uvicorn_config(self.app, self.host, self._requested_port)
        server = _UvicornServer(config, self.state)
        self._error = None

        def run() -> None:
            try:
                server.run()
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                self._error = exc

        thread = threading.Thread(target=run, name="anka-simulator", daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                where = f"{self.host}:{self._requested_port}"
                raise RuntimeError(f"ANKA simulator failed to start on {where}: {self._error!r}")
            time.sleep(0.01)
        self._port = server.bound_port()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self.state.cancel_pending()
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            self.state.cancel_pending()
            thread.join(5.0)
        self._server = self._thread = None

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- addresses --
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("simulator not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    # -- control --
    @property
    def faults(self) -> FaultConfig:
        return self.state.faults

    def set_faults(self, faults: FaultConfig) -> None:
        self.state.set_faults(faults)

    def reset(self) -> None:
        self.state.reset()

    def stats(self) -> dict[str, int]:
        return self.state.stats()

    def received(self) -> list[Any]:
        return self.state.received()

    @contextlib.contextmanager
    def faults_set(self, faults: FaultConfig) -> Iterator[SimulatorServer]:
        """Temporarily use ``faults`` (and a reset log); restores the previous config afterwards."""
        previous = self.state.faults
        self.set_faults(faults)
        self.reset()
        try:
            yield self
        finally:
            self.set_faults(previous)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="anka-simulator",
        description="OpenAI-compatible simulator of the ANKA teacher/judge models, with fault injection.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free)")
    parser.add_argument("--latency", default="none", help="none | fixed:SECONDS | uniform:LOW,HIGH")
    parser.add_argument("--rate-429", type=float, default=0.0)
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds of 429 answers")
    parser.add_argument("--rate-500", type=float, default=0.0)
    parser.add_argument("--rate-hang", type=float, default=0.0)
    parser.add_argument("--hang-seconds", type=float, default=30.0)
    parser.add_argument("--rate-malformed", type=float, default=0.0)
    parser.add_argument("--rate-truncated", type=float, default=0.0)
    parser.add_argument("--rate-pii-echo", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault RNG")
    parser.add_argument("--max-concurrent", type=int, default=0,
                        help="serve at most K requests at a time, queue the rest (0 = no limit)")
    parser.add_argument("--rate-limit", type=float, default=0.0,
                        help="answer 429 with Retry-After above R requests per second (0 = no limit)")
    parser.add_argument("--ignore-response-format", action="store_true",
                        help="ignore response_format silently (as transformers serve does)")
    parser.add_argument(
        "--model", action="append", default=None, help="model id listed by /v1/models (repeatable)"
    )
    parser.add_argument("--log-level", default="warning")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``anka-simulator`` / ``python -m anka_testkit.simulator``."""
    args = _parse_args(argv)
    try:
        faults = FaultConfig(
            latency=Latency.parse(args.latency),
            rate_429=args.rate_429,
            retry_after=args.retry_after,
            rate_500=args.rate_500,
            rate_hang=args.rate_hang,
            hang_seconds=args.hang_seconds,
            rate_malformed=args.rate_malformed,
            rate_truncated=args.rate_truncated,
            rate_pii_echo=args.rate_pii_echo,
            seed=args.seed,
            max_concurrent=args.max_concurrent,
            rate_limit=args.rate_limit,
            ignore_response_format=args.ignore_response_format,
        )
    except ValueError as exc:
        print(f"anka-simulator: {exc}", file=sys.stderr)
        return 2
    with contextlib.suppress(ValueError):
        if not ipaddress.ip_address(args.host).is_loopback:
            print(f"anka-simulator: warning: binding to non-loopback address {args.host}", file=sys.stderr)
    state = SimulatorState(faults, tuple(args.model) if args.model else DEFAULT_MODELS)
    config = _uvicorn_config(
        create_app(state), args.host, args.port, log_config=uvicorn.config.LOGGING_CONFIG, log_level=args.log_level
    )
    server = _UvicornServer(config, state, announce=True)
    server.run()
    return 0 if server.started else 1
