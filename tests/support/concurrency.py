"""Running the same piece of work from several threads at once, for the tests that prove two
runs of a job (or two requests) do each thing once."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_at_once(work: Callable[[], object], times: int = 2, timeout: float = 60) -> None:
    """Call `work()` from `times` threads released together; re-raise the first error any of
    them hit, once all have ended (or `timeout` seconds passed)."""
    start = threading.Barrier(times)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            work()
        except BaseException as error:  # surfaced below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    if errors:
        raise errors[0]
    alive = [thread for thread in threads if thread.is_alive()]
    if alive:
        raise AssertionError(f"{len(alive)} of {times} runs did not end within {timeout} s")
