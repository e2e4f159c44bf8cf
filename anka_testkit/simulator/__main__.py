"""``python -m anka_testkit.simulator``: serve the simulator as a process (see :func:`.server.main`)."""

import sys

from anka_testkit.simulator.server import main

sys.exit(main())
