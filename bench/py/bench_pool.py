"""CPython multiprocessing.Pool: map, apply_async and CPU-bound speedup.

  bench_pool.py map     fig=F n=ITEMS procs=P           items/s, pool.map(square, range(n))
  bench_pool.py apply   fig=F n=TASKS procs=P           tasks/s, n apply_async calls, then every get()
  bench_pool.py speedup fig=F tasks=K procs=P seconds=T serial time / pool.map time

The pool is started (and warmed up with a small map) before the clock runs.
"""
import sys
import time

from benchlib import CTX, args, cpu_iters, cpu_work, result


def square(x):
    return x * x


def work(a):
    return cpu_work(*a)


def main():
    mode, kv = args()
    procs = int(kv.get("procs", 2))
    fig = kv["fig"]
    with CTX.Pool(procs) as pool:
        pool.map(square, range(64))
        if mode == "map":
            n = int(kv.get("n", 1000000))
            t0 = time.monotonic()
            out = pool.map(square, range(n))
            dt = time.monotonic() - t0
            assert out[-1] == (n - 1) ** 2
            result(fig, n / dt, "items/s")
        elif mode == "apply":
            n = int(kv.get("n", 10000))
            t0 = time.monotonic()
            rs = [pool.apply_async(square, (i,)) for i in range(n)]
            total = sum(r.get() for r in rs)
            dt = time.monotonic() - t0
            assert total == sum(i * i for i in range(n))
            result(fig, n / dt, "tasks/s")
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
            sys.exit(f"usage: {sys.argv[0]} map|apply|speedup [key=value...]")


if __name__ == "__main__":
    main()
