"""A real huey consumer in the test process, for tests that run queued jobs end to end."""
from contextlib import contextmanager

from portal import queue


@contextmanager
def consumer(workers=1, periodic=False):
    """A real huey consumer (scheduler + worker threads) in this process, without its signal handlers, for the
    app created last; stopped gracefully on exit."""
    c = queue.huey.create_consumer(workers=workers, worker_type="thread", periodic=periodic, scheduler_interval=1,
                                   initial_delay=0.05, max_delay=0.2)
    c.scheduler.start()
    for _, thread in c.worker_threads:
        thread.start()
    try:
        yield c
    finally:
        c.stop(graceful=True)
