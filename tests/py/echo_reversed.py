# echo_reversed.py FD - CPython's side of test_pipe's interop test: wrap an
# inherited socket descriptor in multiprocessing.connection.Connection and
# answer every message with its bytes reversed, until the end of stream.
import sys
from multiprocessing.connection import Connection

conn = Connection(int(sys.argv[1]))
count = 0
while True:
    try:
        msg = conn.recv_bytes()
    except EOFError:
        break
    conn.send_bytes(msg[::-1])
    count += 1
conn.close()
# Report how many messages came, so the C side can check none was merged.
sys.exit(0 if count == int(sys.argv[2]) else 1)
