"""Sleeps, for Stop and MaxRuntime tests; writes its pid (and a child's) so tests can check they died.

    sleeper.py <pid-file> [seconds] [--ignore-term]

With --ignore-term it ignores SIGTERM, so only the sandbox's SIGKILL ends it.
"""

import json
import signal
import subprocess
import sys
import time

pid_file = sys.argv[1]
seconds = float(sys.argv[2]) if len(sys.argv) > 2 and not sys.argv[2].startswith("--") else 60.0
if "--ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
with open(pid_file, "w") as f:
    json.dump({"pid": __import__("os").getpid(), "child": child.pid}, f)
print("sleeping", flush=True)
time.sleep(seconds)
print("woke up", flush=True)
