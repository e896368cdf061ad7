"""mpi4py.futures, the Python peer of libmp's cluster pool (bench_cluster.c):
run as `mpirun -np 3 python3 -m mpi4py.futures bench_cluster.py MODE ...`,
rank 0 runs this script and the other ranks are the executor's workers.

  bench_cluster.py map   fig=F n=ITEMS chunk=C  items/s, list(ex.map(square, range(n), chunksize=C))
  bench_cluster.py apply fig=F n=TASKS          tasks/s, n ex.submit(square, i), then every result()
  bench_cluster.py rt    fig=F seconds=T        us per ex.submit(square, i).result()
  bench_cluster.py work  fig=F tasks=K ms=M     tasks/s, ex.map over K tasks of M ms of CPU, chunksize 1

The executor is started (and warmed up) before the clock runs.
"""
import sys
import time

from mpi4py.futures import MPIPoolExecutor

from benchlib import apply_rate, args, cpu_iters, cpu_work, map_rate, result, timed_loop


def square(x):
    return x * x


def work(a):
    return cpu_work(*a)


def main():
    mode, kv = args()
    fig = kv["fig"]
    with MPIPoolExecutor() as ex:
        list(ex.map(square, range(64)))  # warm-up: every worker up
        if mode == "map":
            n, chunk = int(kv.get("n", 100000)), int(kv.get("chunk", 1)) or 1
            map_rate(fig, lambda f, xs: ex.map(f, xs, chunksize=chunk), square, n)
        elif mode == "apply":
            apply_rate(fig, lambda i: ex.submit(square, i).result, int(kv.get("n", 10000)))
        elif mode == "rt":
            step = lambda: ex.submit(square, 7).result()  # noqa: E731
            result(fig, timed_loop(float(kv.get("seconds", 0.5)), step, batch=1) * 1e6, "us")
        elif mode == "work":
            tasks, ms = int(kv.get("tasks", 200)), float(kv.get("ms", 1.0))
            iters = cpu_iters(ms * 1e-3)
            t0 = time.monotonic()
            list(ex.map(work, [(k, iters) for k in range(tasks)], chunksize=1))
            dt = time.monotonic() - t0
            result(fig, tasks / dt, "tasks/s")
        else:
            print(f"usage: {sys.argv[0]} map|apply|rt|work [key=value...]", file=sys.stderr)
            sys.exit(2)


if __name__ == "__main__":
    main()
