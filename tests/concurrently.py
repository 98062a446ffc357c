"""Running one action in several threads at the same moment, for tests of simultaneous work."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def at_once(action: Callable[[], T], times: int = 2) -> list[T]:
    """Run `action` in `times` threads released together; their results in the order they
    finished. An error in a thread is raised here, in the test's own thread."""
    start = threading.Barrier(times)
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            results.append(action())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
