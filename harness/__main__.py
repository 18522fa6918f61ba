"""``python -m ragsweep ...`` is the ``ragsweep`` command."""

import sys

from ragsweep.commands.cli import main

sys.exit(main())
