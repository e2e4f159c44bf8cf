"""The Dagster code location: loads `anka_assets/defs/` (one module per concern). Nothing else lives here."""

import warnings

from dagster import BetaWarning, Definitions, PreviewWarning
from pydantic.warnings import UnsupportedFieldAttributeWarning

# Where the code location loads (the UI, every run's subprocess, the CLI): Dagster's notices about the
# beta/preview APIs we chose on purpose (Pandera types, backfill policies, observable sources) and
# distilabel's pydantic field declarations are noise to a user. Filtered by category, nothing else.
warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)
warnings.filterwarnings("ignore", category=UnsupportedFieldAttributeWarning)

from pathlib import Path

from dagster import load_from_defs_folder

from anka_assets.defs import Wiring, concern_modules
from anka_assets.fallback import TeacherFallback
from anka_assets.gateway import ModelEndpoint
from anka_assets.resources import RefineryPaths


def build_definitions(
    paths: RefineryPaths | None = None,
    teacher: ModelEndpoint | None = None,
    judge: ModelEndpoint | None = None,
    teacher_fallback: TeacherFallback | None = None,
) -> Definitions:
    """The code location of `anka_assets/defs/` built with the given paths and endpoints (tests, the CLI):
    every module's `build`, merged. Partitions come from the seed files present when this runs; what is
    not given comes from the environment (`Wiring.resolve`)."""
    wiring = Wiring.resolve(paths=paths, teacher=teacher, judge=judge, teacher_fallback=teacher_fallback)
    return Definitions.merge(*(module.build(wiring) for module in concern_modules()))


# Settings and seed folder checked first, in this module: a bad value fails the import with its own one-line
# error (naming the variable), not wrapped in the defs-folder loader's per-module tree.
Wiring.resolve()

#: The code location (workspace.yaml, [tool.dagster], [tool.dg.project]): `anka_assets/defs/` loaded as `dg`
#: loads a project's defs folder, each module's `@dg.definitions` function wired from the environment.
defs = load_from_defs_folder(path_within_project=Path(__file__).parent)
