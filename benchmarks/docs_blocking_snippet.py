"""The docs page's Python reporter as users copied it: a blocking POST in the caller.

Kept only as the benchmark's baseline. The page used ``requests.post(...,
timeout=5)``; this copy makes the same synchronous call with the standard
library, so the benchmark needs nothing beyond the project's dependencies.
"""

from __future__ import annotations

import json
import time
import traceback
import urllib.request

ENDPOINT = "https://api.nevision.app/public/errors/ingest"
SITE_ID = "YOUR_SITE_ID"
API_KEY = "YOUR_API_KEY"


def report_error(exc: BaseException, route: str) -> None:
    payload = {
        "siteId": SITE_ID,
        "errors": [
            {
                "type": type(exc).__name__,
                "message": str(exc),
                "stack": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
                "fingerprint": f"{type(exc).__name__}:{route}",
                "timestamp": int(time.time() * 1000),
                "url": route,
            }
        ],
    }
    request = urllib.request.Request(
        ENDPOINT,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "x-nevision-api-key": API_KEY},
    )
    urllib.request.urlopen(request, timeout=5).read()
