// A websocket client for the agent container, through the bottle's egress proxy.
//
//   node ws_client.mjs HOST PATH MESSAGE
//
// CONNECTs through $https_proxy, speaks TLS to HOST (trusting the bottle CA via
// NODE_EXTRA_CA_CERTS), upgrades PATH to a websocket, sends MESSAGE as one text
// frame and prints one line per event: the upgrade's status line, each text
// frame received ("received ack:12"), and "closed" when the connection ends.
import crypto from "node:crypto";
import net from "node:net";
import tls from "node:tls";

const [host, path, message] = process.argv.slice(2);
const proxy = new URL(process.env.https_proxy || process.env.HTTPS_PROXY);

function textFrame(text) {
  const payload = Buffer.from(text);
  const mask = crypto.randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x81, 0x80 | len])
    : Buffer.from([0x81, 0x80 | 126, len >> 8, len & 0xff]);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([head, mask, body]);
}

function serverFrames(buffer) {
  // Unmasked, unfragmented frames of up to 64 KiB: what the fake and the proxy send here.
  const frames = [];
  while (buffer.length >= 2) {
    let len = buffer[1] & 0x7f;
    let start = 2;
    if (len === 126) {
      if (buffer.length < 4) break;
      len = buffer.readUInt16BE(2);
      start = 4;
    }
    if (buffer.length < start + len) break;
    frames.push([buffer[0] & 0x0f, buffer.subarray(start, start + len).toString()]);
    buffer = buffer.subarray(start + len);
  }
  return [frames, buffer];
}

const socket = net.connect(Number(proxy.port), proxy.hostname, () => {
  socket.write(`CONNECT ${host}:443 HTTP/1.1\r\nHost: ${host}:443\r\n\r\n`);
});
let reply = "";
socket.on("data", function onConnectReply(chunk) {
  reply += chunk.toString("latin1");
  if (!reply.includes("\r\n\r\n")) return;
  socket.removeListener("data", onConnectReply);
  const status = reply.split("\r\n")[0];
  if (!status.includes(" 200")) {
    console.log(`CONNECT refused: ${status}`);
    process.exit(2);
  }
  const conn = tls.connect({ socket, servername: host }, () => {
    const key = crypto.randomBytes(16).toString("base64");
    conn.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
      + `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });
  let pending = Buffer.alloc(0);
  let upgraded = false;
  conn.on("data", (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    if (!upgraded) {
      const end = pending.indexOf("\r\n\r\n");
      if (end < 0) return;
      const status = pending.subarray(0, pending.indexOf("\r\n")).toString();
      console.log(status);
      if (!status.includes(" 101")) process.exit(3);
      upgraded = true;
      pending = pending.subarray(end + 4);
      conn.write(textFrame(message));
    }
    const [frames, rest] = serverFrames(pending);
    pending = rest;
    for (const [opcode, text] of frames) {
      if (opcode === 1) {
        console.log(`received ${text}`);
        conn.end();
      }
    }
  });
  conn.on("error", (err) => console.log(`error ${err.code || err.message}`));
  conn.on("close", () => { console.log("closed"); process.exit(0); });
});
socket.on("error", (err) => { console.log(`error ${err.code || err.message}`); process.exit(4); });
setTimeout(() => { console.log("timeout"); process.exit(5); }, 20000);
