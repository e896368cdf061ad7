"""CPython multiprocessing.Process: start + join of a process that does
nothing (fork start method).

  bench_process.py spawn fig=F seconds=T   us per start+join
"""
import sys

from benchlib import CTX, args, result, timed_loop


def _noop():
    pass


def main():
    mode, kv = args()
    if mode != "spawn":
        sys.exit(f"usage: {sys.argv[0]} spawn [key=value...]")

    def once():
        p = CTX.Process(target=_noop)
        p.start()
        p.join()

    v = timed_loop(float(kv.get("seconds", 0.2)), once, batch=1)
    result(kv["fig"], v * 1e6, "us")


if __name__ == "__main__":
    main()
