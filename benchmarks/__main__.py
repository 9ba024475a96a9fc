"""``python -m benchmarks [--quick] [--only NAME,...] [--no-write] [--out PATH]``."""
import sys

from chainrule.bench import main

sys.exit(main())
