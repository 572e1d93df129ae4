-- wrk script for bench/cpu-ab.sh POST_BYTES=N: every request a POST with an N-byte body.
wrk.method = "POST"
wrk.body = string.rep("x", tonumber(os.getenv("POST_BYTES") or "12000"))
wrk.headers["Content-Type"] = "application/octet-stream"
