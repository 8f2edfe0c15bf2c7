"""`python -m connector` is the same as the `aep-connector` console script."""

import sys

from connector.cli import main

sys.exit(main())
