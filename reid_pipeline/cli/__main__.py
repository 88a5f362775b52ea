"""``python -m reid_pipeline.cli``: the same as the ``reid-pipeline`` command."""

import sys

from reid_pipeline.cli import main

sys.exit(main())
