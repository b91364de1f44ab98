-- wrk's side of the /magic/base64 cross-check: POSTs the bytes of the file named by $WRK_BODY
-- (the same file pixload sends with --body), as application/json unless $WRK_CONTENT_TYPE says
-- otherwise.  env WRK_BODY=body.json wrk -t 1 -c 200 -d 5s -s bench/wrk_post.lua URL
local path = os.getenv("WRK_BODY") or error("wrk_post.lua: set WRK_BODY to the body file")
local f = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("WRK_CONTENT_TYPE") or "application/json"
