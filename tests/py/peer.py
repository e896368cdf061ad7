# peer.py ROLE FAMILY ADDRESS KEY - CPython's side of test_listener's
# interop tests, using multiprocessing.connection's Listener or Client.
#   ROLE     listen | connect
#   FAMILY   tcp | unix
#   ADDRESS  listen: "127.0.0.1" or a socket path; connect: "host:port" or a path
#   KEY      the authkey, or "-" for none
# A listener prints its address ("host:port", or the path) on a line once
# it listens. Then the peer receives three messages from libmp and checks
# them, sends three of its own, and waits for the end of the stream.
# Exit: 0 all well, 2 a message differed, 3 AuthenticationError, 4 other.
import signal
import sys
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Listener

signal.alarm(20)  # never hang a test run

role, family, address, key = sys.argv[1:5]
authkey = None if key == "-" else key.encode()

FROM_LIBMP = [b"", b"hello from libmp", bytes(range(256)) * 4096]
FROM_PYTHON = [b"", b"hello from python", bytes(range(255, -1, -1)) * 4096]

try:
    if role == "listen":
        addr = (address, 0) if family == "tcp" else address
        with Listener(addr, family="AF_INET" if family == "tcp" else "AF_UNIX",
                      authkey=authkey) as listener:
            if family == "tcp":
                host, port = listener.address
                print(f"{host}:{port}", flush=True)
            else:
                print(listener.address, flush=True)
            conn = listener.accept()
    else:
        if family == "tcp":
            host, port = address.rsplit(":", 1)
            addr = (host, int(port))
        else:
            addr = address
        conn = Client(addr, family="AF_INET" if family == "tcp" else "AF_UNIX",
                      authkey=authkey)
    for want in FROM_LIBMP:
        if conn.recv_bytes() != want:
            sys.exit(2)
    for msg in FROM_PYTHON:
        conn.send_bytes(msg)
    try:
        conn.recv_bytes()
        sys.exit(2)  # libmp sends nothing more
    except EOFError:
        pass
    conn.close()
except AuthenticationError:
    sys.exit(3)
except SystemExit:
    raise
except BaseException as e:
    print(f"peer.py: {e!r}", file=sys.stderr)
    sys.exit(4)
sys.exit(0)
