"""CPython multiprocessing.Queue: the queue figures.

  bench_queue.py tput fig=F size=BYTES pairs=N seconds=T depth=MSGS
  bench_queue.py rt   fig=F size=BYTES seconds=T
"""
import sys

from benchlib import CTX, args, peer, result, timed_loop, tput


def _echo(ping, pong):
    while True:
        m = ping.get()
        pong.put(m)
        if not m:
            return


def main():
    mode, kv = args()
    size = int(kv.get("size", 8))
    seconds = float(kv.get("seconds", 0.2))
    if mode == "tput":
        depth = int(kv.get("depth", 1024))
        v = tput(lambda: CTX.Queue(depth), int(kv.get("pairs", 1)), size, seconds)
        result(kv["fig"], v, "msgs/s")
    elif mode == "rt":
        ping, pong = CTX.Queue(), CTX.Queue()
        child = peer(_echo, (ping, pong))
        msg = bytes(size)
        ping.put(msg)
        pong.get()  # one untimed trip: the child is running

        def trip():
            ping.put(msg)
            pong.get()

        v = timed_loop(seconds, trip)
        ping.put(b"")
        pong.get()
        child.join()
        result(kv["fig"], v * 1e6, "us")
    else:
        sys.exit(f"usage: {sys.argv[0]} tput|rt [key=value...]")


if __name__ == "__main__":
    main()
