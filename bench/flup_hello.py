# flup peer for bench/run.ts, used only with `--flup DIR` (flup is not packaged for Debian 12): serves
# bench/hello_wsgi.py with flup.server.scgi_fork's pre-forking SCGI server. Usage: python3 flup_hello.py PORT WORKERS
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flup.server.scgi_fork import WSGIServer  # noqa: E402  (path set by the caller: PYTHONPATH=<flup dir>)
from hello_wsgi import application  # noqa: E402

port = int(sys.argv[1])
workers = int(sys.argv[2])
sys.stderr.write("ready: %d workers on 127.0.0.1:%d\n" % (workers, port))
sys.stderr.flush()
WSGIServer(application, scriptName='', bindAddress=("127.0.0.1", port), minSpare=workers, maxSpare=workers,
           maxChildren=workers, maxRequests=0).run()
