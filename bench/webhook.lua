-- wrk script: POST one pre-signed Stripe delivery per request, never the same one twice.
-- wrk -s bench/webhook.lua <url> -- <deliveries file> <threads>
-- Each wrk thread takes every n-th line of the file. When a thread runs out it repeats its
-- last delivery (a duplicate): the harness counts stored events afterwards and fails then.
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(args[2])
  sigs, bodies, idx = {}, {}, 0
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == tid then
      local sig, body = line:match("^([^\t]*)\t(.*)$")
      sigs[#sigs + 1] = sig
      bodies[#bodies + 1] = body
    end
    i = i + 1
  end
end

function request()
  if idx < #bodies then idx = idx + 1 end
  return wrk.format("POST", "/stripe/webhook",
    {["Content-Type"] = "application/json", ["Stripe-Signature"] = sigs[idx]}, bodies[idx])
end
