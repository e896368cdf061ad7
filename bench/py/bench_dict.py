"""CPython Manager().dict(): the work of bench_dict.c.

  bench_dict.py mix fig=F procs=2 keys=10000 seconds=T
      ops/s of 50% get, 50% set of 8-byte keys and values (bytes) over
      `keys` keys, all present beforehand, from `procs` processes
  bench_dict.py add fig=F procs=2 seconds=T
      ops/s of `with lock: d[k] = d.get(k, 0) + 1` on one key: Python has no
      atomic add on a managed dict, so a correct counter takes a Lock

Placement comes from BENCH_PLACE, as for every figure (benchlib.pin). The
manager's server process is not pinned: it is part of what a
Manager().dict() costs, wherever the scheduler puts it.
"""
import random
import struct

from benchlib import CTX, args, ops, result


def main():
    mode, kv = args()
    seconds = float(kv.get("seconds", 0.2))
    procs = int(kv.get("procs", 2))
    nkeys = int(kv.get("keys", 10000))
    fig = kv["fig"]
    manager = CTX.Manager()
    d = manager.dict()
    if mode == "mix":
        keys = [struct.pack("<Q", k) for k in range(nkeys)]
        d.update({k: k for k in keys})
        get, put, rand = d.get, d.__setitem__, random.getrandbits

        def op():
            r = rand(32)
            k = keys[(r >> 1) % nkeys]
            if r & 1:
                put(k, struct.pack("<Q", r))
            else:
                get(k)

        result(fig, ops(procs, seconds, op), "ops/s")
    elif mode == "add":
        key = struct.pack("<Q", 0)
        lock = CTX.Lock()

        def op():
            with lock:
                d[key] = d.get(key, 0) + 1

        result(fig, ops(procs, seconds, op), "ops/s")
    else:
        raise SystemExit(f"usage: bench_dict.py mix|add [key=value...] (not {mode!r})")
    manager.shutdown()


if __name__ == "__main__":
    main()
