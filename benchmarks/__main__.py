"""``python -m benchmarks``: run the benchmarks and write BENCHMARKS.md."""
import sys

from .core import main

sys.exit(main())
