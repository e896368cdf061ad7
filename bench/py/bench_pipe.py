"""CPython multiprocessing.Pipe: the pipe figures.

  bench_pipe.py rt fig=F size=BYTES seconds=T   duplex Pipe, send_bytes/recv_bytes ping-pong
  bench_pipe.py bw fig=F size=BYTES seconds=T   Pipe(duplex=False), a stream of messages (MiB/s)
"""
import sys
import time

from benchlib import CTX, Gate, args, peer, result, timed_loop


def _echo(conn):
    while True:
        m = conn.recv_bytes()
        conn.send_bytes(m)
        if not m:
            return


def _sink(conn, gate, out):
    gate.wait()
    n = 0
    while True:
        m = conn.recv_bytes()
        if not m:
            break
        n += len(m)
    out[0] = n
    out[1] = time.monotonic()


def main():
    mode, kv = args()
    size = int(kv.get("size", 8))
    seconds = float(kv.get("seconds", 0.2))
    msg = bytes(size)
    if mode == "rt":
        a, b = CTX.Pipe(duplex=True)
        child = peer(_echo, (b,))
        a.send_bytes(msg)
        a.recv_bytes()

        def trip():
            a.send_bytes(msg)
            a.recv_bytes()

        v = timed_loop(seconds, trip)
        a.send_bytes(b"")
        a.recv_bytes()
        child.join()
        result(kv["fig"], v * 1e6, "us")
    elif mode == "bw":
        r, w = CTX.Pipe(duplex=False)
        gate = Gate()
        out = CTX.RawArray("d", 2)
        child = peer(_sink, (r, gate, out))
        gate.open(1)
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            w.send_bytes(msg)
        w.send_bytes(b"")
        child.join()
        result(kv["fig"], out[0] / (out[1] - t0) / (1 << 20), "MiB/s")
    else:
        sys.exit(f"usage: {sys.argv[0]} rt|bw [key=value...]")


if __name__ == "__main__":
    main()
