-- wrk script for bench/run.ts --full: every request is a POST with a 64 KiB body.
wrk.method = "POST"
wrk.body = string.rep("a", 65536)
wrk.headers["Content-Type"] = "application/octet-stream"
