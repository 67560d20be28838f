"""Where a page's time goes: an in-process sampling profiler over a loop of requests.

A background thread samples the request thread's Python stack every ~0.5 ms
(`sys._current_frames`) while the Flask test client requests one page over and over. Each
sample is charged to the innermost frame that belongs to a known part, so the parts add up to
100 % with no double counting:

- database: the driver executing a statement or fetching rows (SQLAlchemy's `do_execute`,
  cursor fetches, psycopg, sqlite3);
- SQLAlchemy: building and compiling statements, cache keys, ORM loading of rows;
- money formatting: `portal.domain.core.money` and Babel;
- template: Jinja2 rendering (the compiled template code and Jinja's runtime);
- session/cookie: reading and writing the signed session cookie, the session checks
  (`portal.web.customer_session`, `admin.session`) apart from their SQL, CSRF;
- logging/headers: the JSON access log, security headers;
- Flask/Werkzeug: routing, `url_for`, request and response objects, the test client;
- portal code: the views and read models themselves (Python around the queries), the admin
  views included;
- other: anything else (standard library called from none of the above).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter

PARTS = ("database", "SQLAlchemy", "money formatting", "template", "session/cookie", "logging/headers",
         "Flask/Werkzeug", "portal code", "other")

_DRIVER_FUNCTIONS = {"do_execute", "do_executemany", "do_execute_no_params", "fetchall", "fetchone", "fetchmany",
                     "_fetchall_impl", "_fetchone_impl", "_fetchmany_impl"}


def classify(frame) -> str:
    """The part a sample belongs to: the innermost frame of a known part wins."""
    while frame is not None:
        path = frame.f_code.co_filename.replace("\\", "/")
        name = frame.f_code.co_name
        if "/psycopg" in path or "/sqlite3/" in path:
            return "database"
        if "/sqlalchemy/" in path:
            if name in _DRIVER_FUNCTIONS and ("/engine/default.py" in path or "/engine/cursor.py" in path):
                return "database"
            return "SQLAlchemy"
        if "/babel/" in path or path.endswith("portal/domain/core/money.py"):
            return "money formatting"
        if "/jinja2/" in path or path.endswith(".html") or "/templates/" in path:
            return "template"
        if ("/itsdangerous/" in path or path.endswith("flask/sessions.py") or "/flask_wtf/" in path
                or path.endswith(("portal/web/customer_session.py", "admin/session.py")) or "/flask_login/" in path):
            return "session/cookie"
        if path.endswith(("portal/web/logging.py", "portal/web/security.py")) or "/logging/" in path:
            return "logging/headers"
        if "/werkzeug/" in path or "/flask/" in path:
            return "Flask/Werkzeug"
        if "/portal/" in path or "/bench/" in path or "/admin/" in path:
            return "portal code"
        frame = frame.f_back
    return "other"


class Sampler:
    def __init__(self, thread_id: int, interval: float = 0.0005) -> None:
        self.thread_id = thread_id
        self.interval = interval
        self.samples: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            frame = sys._current_frames().get(self.thread_id)
            if frame is not None:
                self.samples[classify(frame)] += 1
            time.sleep(self.interval)

    def __enter__(self) -> Sampler:
        self._previous_interval = sys.getswitchinterval()
        sys.setswitchinterval(0.0002)  # let the sampler in while the request thread runs Python
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        sys.setswitchinterval(self._previous_interval)


def profile_requests(send, seconds: float, warm_up: int = 5) -> tuple[float, dict[str, float], int]:
    """Call `send()` (one request, raising on a bad answer) for about `seconds`.

    Returns (median ms per request without the sampler running, share per part, samples).
    """
    for _ in range(warm_up):
        send()
    timings = []
    deadline = time.perf_counter() + seconds / 2
    while time.perf_counter() < deadline or len(timings) < 5:
        started = time.perf_counter()
        send()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    median = timings[len(timings) // 2]
    with Sampler(threading.get_ident()) as sampler:
        deadline = time.perf_counter() + seconds / 2
        count = 0
        while time.perf_counter() < deadline or count < 5:
            send()
            count += 1
    total = sum(sampler.samples.values()) or 1
    return median, {part: sampler.samples[part] / total for part in PARTS}, total
