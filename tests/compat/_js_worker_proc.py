"""An original-style (JavaScript Thoonk Jobs) worker in its own process, for the soak tests.

``python -m tests.compat._js_worker_proc URL QUEUE LOG STOP``: claims jobs with the
original's raw commands (BRPOP, then the get script), finishes each with the
JSON text ``{"twice": 2n, "by": "js"}``, appends every finished id to LOG (one
line each, after the finish returned) and stops once the file STOP exists.
"""

from __future__ import annotations

import json
import os
import sys

from tests.compat.js_client import JsJob


def main(url: str, queue: str, log_path: str, stop_path: str) -> None:
    with JsJob(url, queue) as worker, open(log_path, "a", encoding="utf-8") as log:
        while not os.path.exists(stop_path):
            got = worker.get(timeout=0.2)
            if got is None:
                continue
            text, job_id = got
            if text is None:
                continue  # retracted between pop and claim: the original moves on
            n = json.loads(text)["n"]
            worker.finish(job_id, json.dumps({"twice": n * 2, "by": "js"}))
            log.write(job_id + "\n")
            log.flush()


if __name__ == "__main__":
    main(*sys.argv[1:5])
