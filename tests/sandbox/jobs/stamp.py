"""Sleeps a moment and records when it ran, for the concurrency-limit test.

stamp.py <output-dir> <seconds>
"""

import json
import sys
import time
from pathlib import Path

start = time.time()
time.sleep(float(sys.argv[2]))
Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)
(Path(sys.argv[1]) / "stamp.json").write_text(json.dumps({"start": start, "end": time.time()}))
