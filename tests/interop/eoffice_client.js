// The reference `socket.io-client`, used the way the e-office documentation shows, against
// chatvault's e-office simulator.
//
// Usage: node eoffice_client.js <url> <token> <loginUserId> <liveCount>
// Connects (auth token, connectType/loginUserId query, websocket transport), asks for the
// offline feed, acks each batch with 'success', waits for <liveCount> live messages, then
// prints one JSON summary line and exits 0. A refused login prints {"connect_error": ...}.

const { io } = require("socket.io-client");

const [url, token, userId, liveCount] = process.argv.slice(2);
const want = Number(liveCount || 0);
const summary = { connected: false, offline: [], live: [], withdrawn: [], acks: 0 };
const done = (code) => { process.stdout.write(JSON.stringify(summary) + "\n"); process.exit(code); };

const socket = io(url, {
  auth: { token },
  query: { connectType: "web", loginUserId: userId },
  transports: ["websocket"],
  reconnection: false,
});

socket.on("connect", () => {
  summary.connected = true;
  socket.emit("get offline info");
});
socket.on("connect_error", (err) => {
  summary.connect_error = err.message;
  done(0);
});
const offline = (messages, callback) => {
  for (const m of messages) summary.offline.push(String(m.message_id));
  summary.acks += 1;
  callback("success");
};
socket.on("user offline info", offline);
socket.on("group offline info", offline);
const live = (m) => {
  summary.live.push({ id: String(m.message_id), text: m.text_message_content });
  if (summary.live.length >= want) setTimeout(() => done(0), 200);
};
socket.on("private message", live);
socket.on("group message", live);
socket.on("withdraw msg", (w) => summary.withdrawn.push(String(w.message_id)));

setTimeout(() => done(1), 15000);
