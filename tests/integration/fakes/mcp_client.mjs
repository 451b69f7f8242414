// A minimal MCP client over streamable HTTP, run inside the agent container with Node's fetch.
// Usage: node mcp_client.mjs <url> list | call <tool> <json-args>
// Prints one JSON line: {"tools": [...]} or {"result": {...}}.
const [url, verb, tool, rawArgs] = process.argv.slice(2);
let session = null;
let nextId = 1;

async function rpc(method, params, notify = false) {
  const body = {jsonrpc: "2.0", method, params};
  if (!notify) body.id = nextId++;
  const headers = {"content-type": "application/json", "accept": "application/json, text/event-stream",
                   "mcp-protocol-version": "2025-06-18"};
  if (session) headers["mcp-session-id"] = session;
  const res = await fetch(url, {method: "POST", headers, body: JSON.stringify(body)});
  session = res.headers.get("mcp-session-id") || session;
  if (notify) return null;
  const text = await res.text();
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${text}`);
  const type = res.headers.get("content-type") || "";
  const messages = type.includes("text/event-stream")
    ? text.split("\n").filter(l => l.startsWith("data:")).map(l => JSON.parse(l.slice(5)))
    : [JSON.parse(text)];
  const reply = messages.find(m => m.id === body.id);
  if (!reply) throw new Error(`no reply to ${method}: ${text}`);
  if (reply.error) throw new Error(JSON.stringify(reply.error));
  return reply.result;
}

await rpc("initialize", {protocolVersion: "2025-06-18", capabilities: {},
                         clientInfo: {name: "bottle-test", version: "1"}});
await rpc("notifications/initialized", {}, true);
if (verb === "list") {
  const result = await rpc("tools/list", {});
  console.log(JSON.stringify({tools: result.tools.map(t => t.name)}));
} else {
  const result = await rpc("tools/call", {name: tool, arguments: JSON.parse(rawArgs || "{}")});
  console.log(JSON.stringify({result}));
}
