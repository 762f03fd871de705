"""`python -m train.cli ...`: the same as the `minibert` console script."""

import sys

from train.cli import main

sys.exit(main())
