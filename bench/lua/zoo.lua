-- wrk script for the zoo benchmark (bench/run.sh).
--
--   wrk ... -s zoo.lua http://127.0.0.1:PORT -- get <max_id> [bearer]
--   wrk ... -s zoo.lua http://127.0.0.1:PORT -- path <path-with-query> [bearer]
--   wrk ... -s zoo.lua http://127.0.0.1:PORT -- post <path> <json body> [bearer]
--   wrk ... -s zoo.lua http://127.0.0.1:PORT -- create <zoos> [bearer]
--   wrk ... -s zoo.lua http://127.0.0.1:PORT -- login <identity> <password>
--
-- get:    GET /api/tables/animals/rows/<random id in 1..max_id>
-- path:   GET the given path (a list request); the request is built once
-- post:   POST the given JSON body to the given path (a GraphQL query to /graphql); the
--         request is built once
-- create: POST /api/tables/animals/rows with one random animal (JSON object)
-- login:  POST /api/auth/login {"identity": ..., "password": ...}; the request is built once
--
-- With [bearer], every request carries `Authorization: Bearer <bearer>` (an access token
-- or a `tsk_` API token); without it the request is anonymous.
--
-- done() prints one machine-readable line for run.sh:
--   WRKRESULT requests=N duration_us=N rps=X p50_us=N p99_us=N non2xx=N connect=N read=N write=N timeout=N
-- non2xx is wrk's status error count (every response with status > 399; tessera never
-- answers 3xx, and run.sh checks each request once with curl before measuring).

local thread_count = 0

function setup(thread)
   thread_count = thread_count + 1
   thread:set("thread_index", thread_count)
end

local op, arg
local static_request
local species = {
   "lion", "tiger", "bear", "wolf", "zebra", "giraffe", "elephant", "hippo", "rhino", "gorilla",
   "chimp", "panda", "koala", "kangaroo", "penguin", "flamingo", "crocodile", "cobra", "otter", "lemur",
}
local get_headers = {}
local post_headers = { ["Content-Type"] = "application/json" }

-- JSON string literal for login credentials (quotes and backslashes escaped).
local function json_string(text)
   return '"' .. text:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function init(args)
   op = args[1]
   arg = args[2]
   if op ~= "get" and op ~= "path" and op ~= "post" and op ~= "create" and op ~= "login" then
      error("zoo.lua: first script argument must be get, path, post, create or login, got " .. tostring(op))
   end
   -- post takes its body as the second argument after the path, so its bearer comes third.
   local bearer = args[3]
   if op == "post" then
      bearer = args[4]
   end
   if op ~= "login" and bearer ~= nil and bearer ~= "" then
      get_headers["Authorization"] = "Bearer " .. bearer
      post_headers["Authorization"] = "Bearer " .. bearer
   end
   math.randomseed(os.time() * 1000 + (thread_index or 0) * 7919)
   if op == "get" then
      arg = tonumber(arg) or 100000
   elseif op == "path" then
      static_request = wrk.format("GET", arg, get_headers)
   elseif op == "post" then
      if arg == nil or args[3] == nil then
         error("zoo.lua: post needs <path> <json body>")
      end
      static_request = wrk.format("POST", arg, post_headers, args[3])
   elseif op == "login" then
      if arg == nil or args[3] == nil then
         error("zoo.lua: login needs <identity> <password>")
      end
      local body = '{"identity":' .. json_string(arg) .. ',"password":' .. json_string(args[3]) .. '}'
      static_request = wrk.format("POST", "/api/auth/login", post_headers, body)
   else
      arg = tonumber(arg) or 100
   end
end

function request()
   if op == "get" then
      return wrk.format("GET", "/api/tables/animals/rows/" .. math.random(1, arg), get_headers)
   elseif op == "path" or op == "post" or op == "login" then
      return static_request
   end
   local body = string.format(
      '{"name":"Wrk %d","species":"%s","age":%d,"weight":%.1f,"zoo":%d,"created":"2024-%02d-%02dT12:00:00Z"}',
      math.random(1, 1000000), species[math.random(1, #species)], math.random(0, 99),
      math.random(1, 5000) / 10, math.random(1, arg), math.random(1, 12), math.random(1, 28))
   return wrk.format("POST", "/api/tables/animals/rows", post_headers, body)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "WRKRESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50.0), latency:percentile(99.0),
      e.status, e.connect, e.read, e.write, e.timeout))
end
