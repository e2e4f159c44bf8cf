"""The optional local fallback teacher: answers, in the same run, the rows KVKK refuses to send to a
commercial teacher (non-public sensitivity, or personal data found by the egress scan).

Configured from ``ANKA_TEACHER_FALLBACK_*`` (the same variables as any endpoint: ``BACKEND``,
``BASE_URL``, ``MODEL``, ``LOCALITY``, ...) only when ``ANKA_TEACHER_FALLBACK_BASE_URL`` or
``ANKA_TEACHER_FALLBACK_BACKEND`` is set; otherwise it is off and refused rows stay ``blocked_kvkk``.
Its locality must be ``local``: a fallback that is itself commercial would only be refused again, and a
mislabelled one would be a leak, so the code location refuses to load with a clear error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import Field

from anka_assets.gateway import ModelEndpoint
from anka_assets.gateway.endpoint import env_prefix

__all__ = ["FALLBACK_ROLE", "FallbackConfigError", "TeacherFallback"]

FALLBACK_ROLE = "teacher_fallback"


class FallbackConfigError(ValueError):
    """The fallback teacher is configured but not usable as one (not local)."""


class TeacherFallback(ModelEndpoint):
    """A second teacher endpoint (resource key ``teacher_fallback``) that must be ``local``."""

    role: str = Field(default=FALLBACK_ROLE, description="Audit role and env prefix (ANKA_TEACHER_FALLBACK_).")
    configured: bool = Field(
        default=False,
        description="On: rows the KVKK guard refuses for the teacher are sent here in the same run. "
        "Set from the environment when ANKA_TEACHER_FALLBACK_BASE_URL or _BACKEND is set.",
    )

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> "TeacherFallback":
        """Off unless ``ANKA_TEACHER_FALLBACK_BASE_URL`` or ``_BACKEND`` is set; then checked to be local."""
        env = os.environ if env is None else env
        prefix = env_prefix(FALLBACK_ROLE)
        if not (env.get(prefix + "BASE_URL") or env.get(prefix + "BACKEND")):
            return cls(configured=False)
        base = ModelEndpoint.from_env(FALLBACK_ROLE)
        fields = {name: getattr(base, name) for name in ModelEndpoint.model_fields if name != "role"}
        fallback = cls(configured=True, **fields)
        fallback.check_local()
        return fallback

    def check_local(self) -> None:
        locality = str(self.settings().locality)
        if locality != "local":
            prefix = env_prefix(self.role)
            raise FallbackConfigError(
                f"the fallback teacher ({prefix}*) has locality {locality!r}, but it must be 'local': it receives "
                f"exactly the prompts KVKK keeps away from commercial endpoints. Point it at a model inside the "
                f"organisation and set {prefix}LOCALITY=local, or unset {prefix}BASE_URL and {prefix}BACKEND."
            )
