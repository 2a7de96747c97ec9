"""Exits with the code given as the first argument after writing some lines to stderr."""

import sys

code = int(sys.argv[1]) if len(sys.argv) > 1 else 3
print("starting the doomed job")
for i in range(30):
    print(f"noise line {i}", file=sys.stderr)
print("ValueError: the input had no rows", file=sys.stderr)
sys.exit(code)
