"""``python -m anka_assets.simulator``: serve the simulator as a process (see :func:`.server.main`)."""

import sys

from anka_assets.simulator.server import main

sys.exit(main())
