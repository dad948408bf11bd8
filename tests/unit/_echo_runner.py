"""Test stand-in for `lambdas.local_runner`: records argv, event and session, then exits."""

import json
import os
import sys
import time

if __name__ == "__main__":
    function_name, event_path = sys.argv[1], sys.argv[2]
    time.sleep(float(os.environ.get("ECHO_DELAY", "0")))
    with open(event_path) as f:
        event = json.load(f)
    record = {
        "argv": sys.argv[1:],
        "event": event,
        "pid": os.getpid(),
        "sid": os.getsid(0),
        "ppid": os.getppid(),
    }
    out_dir = os.environ["ECHO_OUT_DIR"]
    tmp = os.path.join(out_dir, f".{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump(record, f)
    # Renamed into place so the test never reads a half-written record.
    os.replace(tmp, os.path.join(out_dir, f"{os.path.basename(event_path)}.out"))
    print(f"echo runner ran {function_name}")
    print("echo runner stderr line", file=sys.stderr)
