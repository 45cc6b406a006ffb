"""Running one measurement in a fresh Python process, for the benchmark scripts."""

import json
import os
import subprocess
import sys


def run_child(args, env=None):
    """``python *args`` in a fresh process (``env`` added to this one's), and
    the JSON of the last line it printed; ``{"failed": last line of stderr}``
    if it failed. A fresh process per measurement: imports, thread pools and
    memory high-water marks start from nothing."""
    out = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if out.returncode:
        lines = out.stderr.strip().splitlines() or ["no output"]
        return {"failed": lines[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])
