"""CPython multiprocessing locks, semaphores, events and conditions.

  bench_sync.py lock      fig=F procs=1|2 seconds=T   acquire+release pairs/s
  bench_sync.py semaphore fig=F procs=1|2 seconds=T   acquire+release pairs/s
  bench_sync.py event     fig=F seconds=T             us per wake-up (two-event ping-pong)
  bench_sync.py condition fig=F seconds=T             us per wake-up (condition ping-pong)
"""
import sys

from benchlib import CTX, args, ops, peer, result, timed_loop


def _event_echo(ping, pong):
    while True:
        ping.wait()
        ping.clear()
        pong.set()


def _cond_echo(cond, turn):
    with cond:
        while True:
            while turn.value == 0:
                cond.wait()
            if turn.value == 2:
                return
            turn.value = 0
            cond.notify()


def main():
    mode, kv = args()
    seconds = float(kv.get("seconds", 0.2))
    procs = int(kv.get("procs", 1))
    fig = kv["fig"]
    if mode in ("lock", "semaphore"):
        obj = CTX.Lock() if mode == "lock" else CTX.Semaphore(1)
        counter = CTX.RawValue("q", 0)
        acquire, release = obj.acquire, obj.release

        def op():
            acquire()
            counter.value += 1
            release()

        result(fig, ops(procs, seconds, op), "ops/s")
    elif mode == "event":
        # ping-pong: the parent sets ping and waits for pong; the child
        # waits for ping, clears it and sets pong. Two wake-ups a trip.
        ping, pong = CTX.Event(), CTX.Event()
        child = peer(_event_echo, (ping, pong), daemon=True)

        def trip():
            ping.set()
            pong.wait()
            pong.clear()

        trip()
        v = timed_loop(seconds, trip)
        child.terminate()
        child.join()
        result(fig, v / 2 * 1e6, "us")
    elif mode == "condition":
        # turn: 0 the parent's, 1 the child's, 2 stop; each side flips it,
        # notifies and waits for it to come back.
        cond = CTX.Condition()
        turn = CTX.RawValue("i", 0)
        child = peer(_cond_echo, (cond, turn))

        def trip():
            turn.value = 1
            cond.notify()
            while turn.value == 1:
                cond.wait()

        with cond:
            trip()
            v = timed_loop(seconds, trip)
            turn.value = 2
            cond.notify()
        child.join()
        result(fig, v / 2 * 1e6, "us")
    else:
        sys.exit(f"usage: {sys.argv[0]} lock|semaphore|event|condition [key=value...]")


if __name__ == "__main__":
    main()
