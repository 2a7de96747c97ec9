"""Records the native thread-pool sizes the sandbox gave this job, then sleeps (for the CPU-share test).

threads.py <output-dir> <seconds>
"""

import json
import os
import sys
import time
from pathlib import Path

names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)
(Path(sys.argv[1]) / "threads.json").write_text(json.dumps({n: os.environ.get(n) for n in names}))
time.sleep(float(sys.argv[2]))
