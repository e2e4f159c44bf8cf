"""The product's one door to the built-in simulator, which lives in the test kit (``anka_testkit.simulator``).

The simulator is a test helper, not part of the product: no product module imports ``anka_testkit`` but
this one, and this one only when the gateway's ``simulator`` backend asks it for ``SimulatorServer`` (a
lazy module attribute: ``from anka_assets.simulated import SimulatorServer`` inside the function that
starts a server for a run) or for type checkers. What the product itself needs to know about simulated
answers is here, with no import of the test kit:

* :data:`MODEL_PREFIX` / :func:`is_simulated_model`: a simulated response's ``model`` is
  ``"anka-simulator:<requested model>"``; the assets mark such rows ``simulated`` (the test kit's
  simulator writes its answers with this same prefix, imported from here).
* ``SimulatorServer(faults=FaultConfig(...), port=0)``: ``start()``, ``base_url``, ``stop()``; that is all the
  gateway uses of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from anka_testkit.simulator import FaultConfig, SimulatorServer  # noqa: F401

__all__ = ["MODEL_PREFIX", "FaultConfig", "SimulatorServer", "is_simulated_model"]

_FROM_THE_TEST_KIT = ("FaultConfig", "SimulatorServer")

#: Prefix of the ``model`` field of every simulated response (``anka-simulator:<requested model>``).
MODEL_PREFIX = "anka-simulator:"


def is_simulated_model(model: str | None) -> bool:
    """True for the ``model`` of a response the simulator produced (what the gateway records per call)."""
    return isinstance(model, str) and model.startswith(MODEL_PREFIX)


def __getattr__(name: str) -> Any:
    """``SimulatorServer`` and ``FaultConfig``: the test kit's classes, imported on first use (PEP 562)."""
    if name not in _FROM_THE_TEST_KIT:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        import anka_testkit.simulator as simulator
    except ModuleNotFoundError as exc:  # pragma: no cover - the distribution ships both packages
        if exc.name != "anka_testkit":
            raise
        raise RuntimeError(
            "backend=simulator needs the anka_testkit package, which the anka-refinery distribution ships "
            "next to anka_assets; reinstall the project (pip install -e .) or set ANKA_<ROLE>_BASE_URL to a "
            "real OpenAI-compatible endpoint"
        ) from exc
    return getattr(simulator, name)
