"""A wall-clock limit for a block of test code (SIGALRM), shared by the fuzz tests."""

import signal
from contextlib import contextmanager


@contextmanager
def time_limit(seconds: float, error: type[Exception] = TimeoutError, what: str = "the call"):
    """Raise ``error`` inside the block when it runs longer than ``seconds``."""

    def ring(signum, frame):
        raise error(f"{what} took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
