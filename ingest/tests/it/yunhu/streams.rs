//! A bot reply streamed into a group over the WebSocket: the simulator sends the chunks with
//! `chatId` = the bot (seed 004's example: 发送者ID), and every chunk must attach to the
//! message it extends, in the group that holds it.

use std::time::Duration;

use prost::Message as _;
use proto::yunhu::StreamMessage;
use proto::{EventBody, EventKind};
use sim::yunhu::{Script, Step, YunhuSim};

use super::connector::start;

const GROUP: (&str, u64) = ("g-proj", 2);
const BOT: (&str, &str) = ("9000001", "项目助手");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_streamed_into_a_group_grows_the_message_in_that_group() {
    let chunks = ["农业局项目：", "合同已盖章，", "下周三前寄出。"];
    let mut steps = vec![
        Step::text("s-0001", GROUP, ("u1", "张三"), "@项目助手 合同进度？", 1),
        Step::text("s-0002", GROUP, BOT, "进度汇总：", 2),
    ];
    for c in chunks {
        steps.push(Step::Pause(Duration::from_millis(20)));
        steps.push(Step::Stream {
            msg_id: "s-0002".into(),
            chunk: c.into(),
        });
    }
    let sim = YunhuSim::start(Script::Steps(steps)).await.unwrap();
    let run = start(&sim, None);
    assert!(sim.wait_done(super::connector::WAIT).await);

    // The frames really name the bot, not the group.
    let frames: Vec<_> = sim.sent().into_iter().filter(|f| f.cmd == "stream_message").collect();
    assert_eq!(frames.len(), 3);
    for f in &frames {
        let m = StreamMessage::decode(f.bytes.as_ref())
            .unwrap()
            .data
            .unwrap()
            .msg
            .unwrap();
        assert_eq!(m.chat_id, BOT.0, "the seed's chatId is the sender");
    }

    assert!(
        run.until(|r| r
            .events()
            .iter()
            .filter(|e| e.kind() == EventKind::StreamAppend)
            .count()
            == 3)
            .await,
        "{:?}",
        run.events()
    );
    let evs = run.of("s-0002");
    let mut appended: Vec<(u64, String)> = Vec::new();
    for e in &evs {
        assert_eq!(e.chat_id, GROUP.0, "every event of the reply is in the group: {e:?}");
        if let EventBody::StreamAppend { chunk, offset } = &e.body {
            appended.push((*offset, chunk.clone()));
        }
    }
    appended.sort();
    let base = "进度汇总：";
    let text: String = std::iter::once(base.to_string())
        .chain(appended.iter().map(|(_, c)| c.clone()))
        .collect();
    assert_eq!(
        Some(text),
        sim.current_text("s-0002"),
        "the archive grew the reply like the server"
    );
    assert_eq!(
        appended[0].0,
        base.len() as u64,
        "the first chunk starts after the first push"
    );
    assert!(
        !run.events().iter().any(|e| e.chat_id == BOT.0),
        "nothing is filed under the bot as a chat"
    );
    run.stop().await;
}
