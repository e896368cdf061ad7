"""benchlib - what the CPython benchmark scripts share.

Each script is run as `python3 bench_X.py MODE key=value ...`, exactly like
the C programs, and prints `RESULT <figure> cpython <value> <unit>`. Every
script uses the fork start method, the one libmp's model matches.
"""
import multiprocessing as mp
import os
import sys
import time

CTX = mp.get_context("fork")


def args():
    """Return (mode, {key: value}) from the command line."""
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    kv = dict(a.split("=", 1) for a in sys.argv[2:] if "=" in a)
    kv.setdefault("fig", mode)
    return mode, kv


SENDER, RECEIVER = 0, 1


_CPUS = None


def pin(role):
    """CPU placement, as bench_pin in bench.h: BENCH_PLACE=diff puts senders
    on the first allowed CPU and receivers on the second, same puts
    everyone on the first; unset leaves it to the scheduler."""
    place = os.environ.get("BENCH_PLACE")
    if not place:
        return
    # The CPUs allowed at the first call: a process that pins itself twice
    # (bench_pool.py: its pool as the receiver, then itself as the sender)
    # must not choose among the one CPU its first pin left it.
    global _CPUS
    if _CPUS is None:
        _CPUS = sorted(os.sched_getaffinity(0))[:2]
    cpus = _CPUS
    cpu = cpus[1] if place == "diff" and role == RECEIVER and len(cpus) == 2 else cpus[0]
    os.sched_setaffinity(0, {cpu})


def result(fig, value, unit):
    print(f"RESULT {fig} cpython {value:.6g} {unit}", flush=True)


class Gate:
    """A start gate (bench_gate in bench.h): children call wait(), the
    parent open(n) once n children are waiting, so start-up is not
    measured."""

    def __init__(self):
        self._ready = CTX.Semaphore(0)
        self._go = CTX.Event()

    def wait(self):
        self._ready.release()
        self._go.wait()

    def open(self, n):
        for _ in range(n):
            self._ready.acquire()
        self._go.set()


def _producer(q, gate, size, seconds):
    payload = bytes(size)
    pin(SENDER)
    gate.wait()
    deadline = time.monotonic() + seconds
    put = q.put
    n = 0
    while True:
        if n & 31 == 0 and time.monotonic() >= deadline:
            break
        put(payload)
        n += 1
    put(b"")  # end marker


def _consumer(q, gate, i, counts, ends):
    pin(RECEIVER)
    gate.wait()
    get = q.get
    n = 0
    while get():
        n += 1
    counts[i] = n
    ends[i] = time.monotonic()


def tput(make_channel, pairs, size, seconds):
    """Throughput of `pairs` producers and consumers on one queue-like
    object; the same protocol as bench_tput in bench.h: producers send for
    `seconds` then an empty message, each consumer stops at one. Returns
    messages per second from the start gate to the last consumer's end."""
    q = make_channel()
    gate = Gate()
    counts = CTX.RawArray("q", pairs)
    ends = CTX.RawArray("d", pairs)
    procs = [CTX.Process(target=_consumer, args=(q, gate, i, counts, ends)) for i in range(pairs)]
    procs += [CTX.Process(target=_producer, args=(q, gate, size, seconds)) for _ in range(pairs)]
    for p in procs:
        p.start()
    gate.open(len(procs))
    t0 = time.monotonic()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            sys.exit(2)
    return sum(counts) / (max(ends) - t0)


def peer(target, args=(), daemon=False):
    """Start the other side of a two-process figure, pinned as the
    receiver, and pin the caller as the sender (bench_fork_peer)."""
    def run(*a):
        pin(RECEIVER)
        target(*a)
    child = CTX.Process(target=run, args=args, daemon=daemon)
    child.start()
    pin(SENDER)
    return child


def map_rate(fig, map_fn, square, n):
    """RESULT items/s of list(map_fn(square, range(n))), checked."""
    t0 = time.monotonic()
    out = list(map_fn(square, range(n)))
    dt = time.monotonic() - t0
    assert out[-1] == (n - 1) ** 2
    result(fig, n / dt, "items/s")


def apply_rate(fig, submit, n):
    """RESULT tasks/s of n submit(i) calls (each returns the getter of i*i),
    then every result, checked."""
    t0 = time.monotonic()
    getters = [submit(i) for i in range(n)]
    total = sum(get() for get in getters)
    dt = time.monotonic() - t0
    assert total == sum(i * i for i in range(n))
    result(fig, n / dt, "tasks/s")


def timed_loop(seconds, step, batch=16):
    """Run step() in batches until `seconds` have passed; return seconds
    per call."""
    n = 0
    t0 = time.monotonic()
    while True:
        for _ in range(batch):
            step()
        n += batch
        t1 = time.monotonic()
        if t1 - t0 >= seconds:
            return (t1 - t0) / n


def _ops_child(op, gate, seconds, i, counts, ends):
    pin(SENDER if i % 2 == 0 else RECEIVER)
    gate.wait()
    n = 0
    t0 = time.monotonic()
    while True:
        for _ in range(64):
            op()
        n += 64
        t1 = time.monotonic()
        if t1 - t0 >= seconds:
            break
    counts[i] = n
    ends[i] = t1


def ops(procs, seconds, op):
    """op() in a loop in `procs` processes at once; operations per second
    over all of them (bench_ops in bench.h)."""
    gate = Gate()
    counts = CTX.RawArray("q", procs)
    ends = CTX.RawArray("d", procs)
    ps = [CTX.Process(target=_ops_child, args=(op, gate, seconds, i, counts, ends))
          for i in range(procs)]
    for p in ps:
        p.start()
    gate.open(len(ps))
    t0 = time.monotonic()
    for p in ps:
        p.join()
        if p.exitcode != 0:
            sys.exit(2)
    return sum(counts) / (max(ends) - t0)


def cpu_work(seed, iters):
    """The CPU-bound task of the pool-speedup figure: the same xorshift
    loop as bench_cpu_work in bench.h."""
    m = (1 << 64) - 1
    x = seed | 1
    for _ in range(iters):
        x ^= (x << 13) & m
        x ^= x >> 7
        x ^= (x << 17) & m
    return x


def cpu_iters(seconds):
    """Iterations of cpu_work that take about `seconds` here."""
    iters = 1 << 12
    while True:
        t0 = time.monotonic()
        cpu_work(42, iters)
        dt = time.monotonic() - t0
        if dt > 0.01:
            return int(iters * seconds / dt) + 1
        iters *= 4
