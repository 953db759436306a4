-- wrk script of `make bench` (bench/wrk.py runs it): wrk -s bench/wrk.lua URL -- DATA.lua
--
-- DATA.lua (written by bench/wrk.py for each run) returns the workload: kind "claims" or "mix",
-- and one lane per wrk thread. Every thread counts its answers by status; done() prints them
-- with wrk's own figures as one JSON line for bench/wrk.py to read.

local threads, counter = {}, 1

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

local function json_headers(token)
  local headers = {["Content-Type"] = "application/json"}
  if token then headers["Authorization"] = "Bearer " .. token end
  return headers
end

-- claims: the n-th claim of a lane goes to demands[(n + offset) % #demands], made by the
-- (n // #demands)-th claimant of the lane, so no claimant claims one demand twice until the lane's
-- claimants run out (then the answers are 409 duplicate-claim, counted as such).
local function next_claim()
  local demands = lane.demands
  local d = demands[(sent + lane.offset) % #demands + 1]
  local round = math.floor(sent / #demands)
  sent = sent + 1
  if lane.tokens then
    return wrk.format("POST", "/demands/" .. d .. "/claims", json_headers(lane.tokens[round % #lane.tokens + 1]), "{}")
  end
  return wrk.format("POST", "/demands/" .. d .. "/claims", json_headers(nil),
                    '{"claimant":"' .. lane.claimant .. sent .. '"}')
end

-- mix: an episode on one of the lane's worlds queues its independent commands (claim a demand,
-- check in a prepared claim, book two venues, file a service request); each answer queues the
-- command that follows it (confirm, complete, verify, approve, accept, start, resolve).
local queue, head, tail = {}, 1, 0

local function push(method, path, token, body)
  tail = tail + 1
  queue[tail] = wrk.format(method, path, json_headers(token), body or "{}")
end

local function episode()
  local w = lane.worlds[episodes % #lane.worlds + 1]
  episodes = episodes + 1
  local n = w.n
  w.n = n + 1
  local member = w.members[n % #w.members + 1]
  push("POST", "/demands/" .. w.demands[math.floor(n / #w.members) % #w.demands + 1] .. "/claims", member)
  if n < #w.prepared then
    push("POST", "/claims/" .. w.prepared[n + 1] .. "/actions/check_in", data.owner)
  end
  local slot = data.slots[n % #data.slots + 1]
  local booking = '{"starts_at":"' .. slot[1] .. '","ends_at":"' .. slot[2] .. '","attendees":10}'
  push("POST", "/venues/" .. w.free_venue .. "/bookings", member, booking)
  push("POST", "/venues/" .. w.approval_venue .. "/bookings", member, booking)
  push("POST", "/service-items/" .. data.item .. "/requests", w.applicant, '{"subject":"申请稳岗返还"}')
end

local follow = {
  claim = {pending = {"confirm", "{}"}, checked_in = {"complete", '{"hours":2}'},
           completed = {"verify", '{"rating":5}'}},
  booking = {requested = {"approve", "{}"}},
  request = {submitted = {"accept", "{}"}, accepted = {"start", "{}"},
             in_progress = {"resolve", '{"outcome":"approved"}'}},
}
local collection = {claim = "/claims/", booking = "/bookings/", request = "/service-requests/"}

local function follow_up(body)
  local kind = (body:find('"claimant_role"', 1, true) and "claim") or (body:find('"venue_id"', 1, true) and "booking")
    or (body:find('"item_id"', 1, true) and "request")
  if not kind then return end
  local id = body:match('"id"%s*:%s*"([^"]+)"')
  local step = follow[kind][body:match('"status"%s*:%s*"([^"]+)"')]
  if id and step then
    push("POST", collection[kind] .. id .. "/actions/" .. step[1], kind == "request" and data.dept or data.owner,
         step[2])
  end
end

local function next_command()
  if head > tail then episode() end
  local req = queue[head]
  queue[head] = nil
  head = head + 1
  return req
end

function init(args)
  data = dofile(args[1])
  lane = data.lanes[id]
  sent, episodes, statuses, problems = 0, 0, {}, {}
  for _, w in ipairs(lane.worlds or {}) do w.n = 0 end
  request = data.kind == "claims" and next_claim or next_command
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status >= 400 then  -- which problem (application/problem+json type), e.g. 409 duplicate-claim
    local key = status .. " " .. (body:match('"type"%s*:%s*"/problems/([^"]+)"') or "")
    problems[key] = (problems[key] or 0) + 1
  end
  if data.kind == "mix" and status < 300 then follow_up(body) end
end

function done(summary, latency, requests)
  local counts, kinds = {}, {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do counts[status] = (counts[status] or 0) + n end
    for key, n in pairs(thread:get("problems")) do kinds[key] = (kinds[key] or 0) + n end
  end
  local parts, problem_parts = {}, {}
  for status, n in pairs(counts) do parts[#parts + 1] = string.format('"%d":%d', status, n) end
  for key, n in pairs(kinds) do problem_parts[#problem_parts + 1] = string.format('"%s":%d', key, n) end
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"statuses":{%s},"problems":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.mean, latency.max,
    e.connect, e.read, e.write, e.timeout, table.concat(parts, ","), table.concat(problem_parts, ",")))
end
