"""CPython multiprocessing.Pool and concurrent.futures: map, apply_async,
CPU-bound speedup, round trips with explicit placement, a 4 KiB result, and
how fast a waiter wakes.

  bench_pool.py map      fig=F n=ITEMS procs=P           items/s, pool.map(square, range(n))
  bench_pool.py apply    fig=F n=TASKS procs=P           tasks/s, n apply_async calls, then every get()
  bench_pool.py speedup  fig=F tasks=K procs=P seconds=T serial time / pool.map time
  bench_pool.py rt       fig=F seconds=T             us per apply_async(square).get(), Pool(1)
  bench_pool.py rt_alloc fig=F size=B seconds=T      us per ProcessPoolExecutor(1).submit(f).result()
                                                    of a B-byte bytes result
  bench_pool.py wake     fig=F handles=H seconds=T   us from a task's end to its waiter's return
                                                    (median): AsyncResult.wait() when H is 1, else
                                                    concurrent.futures.wait(FIRST_COMPLETED) over
                                                    the task's future and H-1 that never complete

For rt, rt_alloc and wake this process is the sender and the pool's
processes the receiver of BENCH_PLACE (benchlib.pin). The pool is started
(and warmed up) before the clock runs.
"""
import concurrent.futures as cf
import statistics
import sys
import time

from benchlib import (CTX, RECEIVER, SENDER, apply_rate, args, cpu_iters, cpu_work, map_rate, pin,
                      result, timed_loop)


def square(x):
    return x * x


def work(a):
    return cpu_work(*a)


def make_bytes(n):
    return b"r" * n


def stamp_after(delay):
    time.sleep(delay)
    return time.monotonic()


def placed(make):
    """make() a pool or executor whose processes are the receivers of
    BENCH_PLACE, then pin this process as the sender."""
    pin(RECEIVER)
    pool = make()
    pin(SENDER)
    return pool


def one_by_one(seconds, step):
    """us per call of step() over `seconds`."""
    return timed_loop(seconds, step, batch=1) * 1e6


def placed_modes(mode, kv, fig):
    seconds = float(kv.get("seconds", 0.5))
    if mode == "rt":
        with placed(lambda: CTX.Pool(1)) as pool:
            pool.apply(square, (1,))  # the worker is surely running
            result(fig, one_by_one(seconds, lambda: pool.apply_async(square, (7,)).get()), "us")
    elif mode == "rt_alloc":
        size = int(kv.get("size", 4096))
        with placed(lambda: cf.ProcessPoolExecutor(1, mp_context=CTX)) as ex:
            ex.submit(make_bytes, size).result()
            result(fig, one_by_one(seconds, lambda: ex.submit(make_bytes, size).result()), "us")
    elif mode == "wake":
        handles = int(kv.get("handles", 1))
        delay = 500e-6
        lat = []
        if handles == 1:
            with placed(lambda: CTX.Pool(1)) as pool:
                pool.apply(square, (1,))
                t0 = time.monotonic()
                while time.monotonic() - t0 < seconds:
                    r = pool.apply_async(stamp_after, (delay,))
                    r.wait()
                    woke = time.monotonic()
                    lat.append((woke - r.get()) * 1e6)
        else:
            never = [cf.Future() for _ in range(handles - 1)]
            with placed(lambda: cf.ProcessPoolExecutor(1, mp_context=CTX)) as ex:
                ex.submit(square, 1).result()
                t0 = time.monotonic()
                while time.monotonic() - t0 < seconds:
                    f = ex.submit(stamp_after, delay)
                    done, _ = cf.wait([f] + never, return_when=cf.FIRST_COMPLETED)
                    woke = time.monotonic()
                    assert done == {f}
                    lat.append((woke - f.result()) * 1e6)
        result(fig, statistics.median(lat), "us")


def main():
    mode, kv = args()
    procs = int(kv.get("procs", 2))
    fig = kv["fig"]
    if mode in ("rt", "rt_alloc", "wake"):
        placed_modes(mode, kv, fig)
        return
    with CTX.Pool(procs) as pool:
        pool.map(square, range(64))
        if mode == "map":
            map_rate(fig, pool.map, square, int(kv.get("n", 1000000)))
        elif mode == "apply":
            apply_rate(fig, lambda i: pool.apply_async(square, (i,)).get,
                       int(kv.get("n", 10000)))
        elif mode == "speedup":
            tasks = int(kv.get("tasks", 16))
            iters = cpu_iters(float(kv.get("seconds", 0.5)) / tasks)
            jobs = [(k, iters) for k in range(tasks)]
            t0 = time.monotonic()
            serial = [work(j) for j in jobs]
            t1 = time.monotonic()
            parallel = pool.map(work, jobs, chunksize=1)
            t2 = time.monotonic()
            assert serial == parallel
            result(fig, (t1 - t0) / (t2 - t1), "x")
        else:
            sys.exit(f"usage: {sys.argv[0]} map|apply|speedup|rt|rt_alloc|wake [key=value...]")


if __name__ == "__main__":
    main()
