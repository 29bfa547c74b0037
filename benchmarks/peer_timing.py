"""Timing helper shared by the peer-comparison scripts in benchmarks/."""
import statistics
import time


def median_ms(fn, repeats):
    """Median wall time of `fn()` in ms over `repeats` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)
