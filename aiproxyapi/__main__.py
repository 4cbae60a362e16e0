"""`python -m aiproxyapi`."""

import sys

from aiproxyapi.cli import main

sys.exit(main())
