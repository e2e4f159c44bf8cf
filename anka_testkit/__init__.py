"""ANKA Refinery's test kit: helpers for tests, benchmarks and the offline demo, kept out of the product.

* :mod:`anka_testkit.simulator`: the OpenAI-compatible teacher/judge simulator with fault injection
  (``python -m anka_testkit.simulator``); the product reaches it only through :mod:`anka_assets.simulated`.
* :mod:`anka_testkit.pii_fuzz`: seeded generators of valid Turkish identifiers, their obfuscations and
  ordinary text (``bench/pii.py`` and the PII property tests).

Shipped by the same ``anka-refinery`` distribution as ``anka_assets``; it may import the product, the
product never imports it at module level.
"""
