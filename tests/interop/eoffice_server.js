// A minimal e-office IM server built on the reference `socket.io` package, for proving the
// chatvault e-office connector against the real implementation.
//
// Usage: node eoffice_server.js <token>
// Prints one JSON line per thing that happens on stdout:
//   {"listening": <port>}                      once, when ready
//   {"connected": <loginUserId>, "connectType": ..}
//   {"refused": "<reason>"}                    CONNECT with a wrong token
//   {"received": "<event>"}                    events the client emitted
//   {"acked": "<event>", "args": [...], "ids": [...]}   the client acked an offline batch
// Exits when stdin closes.

const { Server } = require("socket.io");

const token = process.argv[2] || "interop-token";
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

const io = new Server({ path: "/socket.io/", transports: ["websocket"], pingInterval: 2000, pingTimeout: 2000 });

io.use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === token) return next();
  out({ refused: "Not authorized" });
  next(new Error("Not authorized"));
});

const sendTime = 1795395600000;
const direct = (id, text) => ({
  message_id: id, message_content: "", text_message_content: text, message_type: 1,
  sender: "zhangsan", sender_name: "张三", send_time: sendTime + id.length, chat_object_id: "admin_zhangsan",
  withdraw: 0, type: "user", to: "admin",
});
const group = (id, text) => ({
  message_id: id, message_content: "", text_message_content: text, message_type: 1,
  sender: "lisi", sender_name: "李四", send_time: sendTime + 1000 + id.length, type: "public_group",
  room_id: "pub_finance", group_name: "财务报销群", at_list: [{ user_id: "admin", user_name: "管理员" }],
});

io.on("connection", (socket) => {
  out({ connected: socket.handshake.query.loginUserId, connectType: socket.handshake.query.connectType });
  socket.onAny((event) => out({ received: event }));
  socket.on("get offline info", async () => {
    const user = [direct("ref-off-1", "离线私聊：报销单已提交"), direct("ref-off-2", "离线私聊：合同已盖章")];
    const groups = [group("ref-off-3", "离线群聊：会议纪要")];
    const userAck = await socket.timeout(10000).emitWithAck("user offline info", user);
    out({ acked: "user offline info", args: [userAck], ids: user.map((m) => m.message_id) });
    const groupAck = await socket.timeout(10000).emitWithAck("group offline info", groups);
    out({ acked: "group offline info", args: [groupAck], ids: groups.map((m) => m.message_id) });
    socket.emit("private message", direct("ref-live-1", "实时私聊：下午三点开会"));
    socket.emit("group message", group("ref-live-2", "@管理员 农业局项目的报告"));
    socket.emit("withdraw msg", { chat_id: "pub_finance", message_id: "ref-live-2", type: "group", toUserId: "pub_finance", at_list: [] });
    out({ pushed: 3 });
  });
});

const http = require("http").createServer();
io.attach(http);
http.listen(0, "127.0.0.1", () => out({ listening: http.address().port }));

process.stdin.on("end", () => { io.close(); http.close(); process.exit(0); });
process.stdin.resume();
