# WSGI peer for bench/run.ts (uWSGI and flup): the same answers as test/fixtures/apps/bench-hello.cjs and
# bench-big.cjs. BENCH_BODY_BYTES unset: the 14-byte hello; set: that many 'x' bytes. The request body is read
# whole first, as the Node servers do, so a POST costs every backend the same reads.
import os

_n = os.environ.get("BENCH_BODY_BYTES")
if _n is None:
    BODY = b"Hello, world!\n"
    TYPE = "text/plain"
else:
    BODY = b"x" * int(_n)
    TYPE = "application/octet-stream"
HEADERS = [("Content-Type", TYPE), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    length = environ.get("CONTENT_LENGTH")
    if length and length != "0":
        environ["wsgi.input"].read(int(length))
    start_response("200 OK", HEADERS)
    return [BODY]
