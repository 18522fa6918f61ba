"""``python -m ragsweep ...`` is the ``ragsweep`` command."""

import sys

from ragsweep.cli import main

sys.exit(main())
