//! Bad input never panics a decoder: for every wire format a connector reads, arbitrary bytes
//! and arbitrary edits of a valid sample (bytes replaced, inserted, removed, the tail cut
//! off) either decode or come back as an error, which the connector turns into a reject row.
//!
//! These are the CI side of the fuzz targets in `fuzz/` (see docs/fuzzing.md): the same
//! decode chains, a few hundred cases each, fast enough for a debug build.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chatvault_ingest::eoffice::codec::Codec;
use chatvault_ingest::eoffice::crypto::ContentKey;
use chatvault_ingest::eoffice::{engineio, socketio};
use chatvault_ingest::goofish::codec::{decode_bytes, decode_item, decode_sync_push};
use chatvault_ingest::goofish::frame::Frame as LwpFrame;
use chatvault_ingest::goofish::message::from_history;
use chatvault_ingest::wecom::codec as wecom;
use chatvault_ingest::wecom::crypto::WecomCrypto;
use chatvault_ingest::worktool::codec::{self as worktool, Callback, MessageCx};
use chatvault_ingest::worktool::receiver::parse_multipart;
use chatvault_ingest::yunhu::codec::{decode as yunhu_decode, frame_events};
use chatvault_ingest::yunhu::cursor::Position;
use chatvault_ingest::yunhu::markup::{html_to_text, markdown_to_text};
use proptest::prelude::*;
use proto::Ingested;
use serde_json::{Value, json};

const RECEIVED_AT: i64 = 1_772_413_260_000;

// ----- decode chains (what each connector runs on what it reads) -----

fn eoffice_key() -> ContentKey {
    ContentKey::new("0123456789abcdef", "fedcba9876543210").unwrap()
}

/// Engine.IO → Socket.IO → event mapping, as the e-office session loop does per frame.
fn eoffice_frame(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let Ok(engineio::Packet::Message(m)) = engineio::decode(&text) else {
        return;
    };
    let Ok(packet) = socketio::decode(m) else {
        return;
    };
    let _ = packet.error_message();
    if let Some((name, args)) = packet.event_parts()
        && let Ok(d) = Codec::new(Some(eoffice_key())).decode(name, args, RECEIVED_AT)
    {
        for (_, reason) in &d.rejects {
            assert!(!reason.is_empty());
        }
        d.events.iter().for_each(reads_back);
    }
}

/// WeCom POST body with a valid signature: envelope → verify → decrypt → inner XML.
fn wecom_body(crypto: &WecomCrypto, body: &[u8]) {
    let Ok(env) = wecom::parse_envelope(body) else {
        return;
    };
    let sig = crypto.signature("1409659813", "1372623149", &env.encrypt);
    assert!(crypto.verify(&sig, "1409659813", "1372623149", &env.encrypt).is_ok());
    if let Ok(plain) = crypto.decrypt(&env.encrypt)
        && let Ok(d) = wecom::decode(&plain)
    {
        d.events.iter().for_each(reads_back);
    }
}

fn wecom_crypto() -> WecomCrypto {
    // The public WXBizMsgCrypt sample credentials.
    WecomCrypto::new(
        "QDG6eK",
        "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
        "wx5823bf96d3bd56c7",
    )
    .unwrap()
}

/// A Goofish LWP text frame, and a sync push inside it.
fn goofish_frame(bytes: &[u8]) {
    let Ok(frame) = LwpFrame::parse(&String::from_utf8_lossy(bytes)) else {
        return;
    };
    let _ = frame.failure();
    let _ = frame.is_flow_control();
    LwpFrame::parse(&frame.ack().to_text()).expect("our ack parses");
    if let Ok(push) = decode_sync_push(&frame.body, RECEIVED_AT) {
        for item in &push.items {
            match item {
                Ingested::Rejected { reason, .. } => assert!(!reason.is_empty()),
                Ingested::Payload { events, .. } => events.iter().for_each(reads_back),
            }
        }
    }
    let _ = from_history(&frame.body);
}

/// A Goofish sync item's decoded bytes (JSON or MessagePack), through `decode_item`.
fn goofish_item(bytes: &[u8]) {
    let _ = decode_bytes(bytes);
    match decode_item(&json!({ "data": STANDARD.encode(bytes) }), RECEIVED_AT) {
        Ingested::Payload { events, .. } => events.iter().for_each(reads_back),
        Ingested::Rejected { reason, .. } => assert!(!reason.is_empty()),
    }
    let _ = decode_item(&json!({ "data": String::from_utf8_lossy(bytes) }), RECEIVED_AT);
}

/// A WorkTool body in one of its three encodings, then classification and mapping.
fn worktool_body(encoding: u8, bytes: &[u8]) {
    let fields = match encoding % 3 {
        0 => worktool::parse_json(bytes),
        1 => worktool::parse_urlencoded(bytes),
        _ => tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(parse_multipart(
                bytes::Bytes::copy_from_slice(bytes),
                "wtboundary".into(),
            )),
    };
    let Ok(fields) = fields else {
        return;
    };
    match worktool::classify(&fields) {
        Ok(Callback::Message(m)) => {
            if let Some(b64) = &m.file_base64 {
                let _ = worktool::decode_file(b64);
            }
            let cx = MessageCx {
                received_at: RECEIVED_AT,
                arrival: 1,
                robot: "robot",
            };
            let ev = worktool::message_event(&m, &cx, None);
            assert!(!ev.chat_id.is_empty());
            reads_back(&ev);
        }
        Ok(Callback::Other { subtype }) => reads_back(&worktool::other_event(&subtype, &fields)),
        Ok(_) | Err(_) => {}
    }
}

/// A Yunhu binary frame, decoded and mapped twice against one position (a redelivery).
fn yunhu_frame(bytes: &[u8]) {
    let Ok(frame) = yunhu_decode(bytes) else {
        return;
    };
    let mut pos = Position::default();
    for _ in 0..2 {
        frame_events(&frame, &mut pos, RECEIVED_AT).iter().for_each(reads_back);
    }
    let (back, warning) = Position::from_cursor(Some(&pos.to_cursor()));
    assert!(warning.is_none());
    assert_eq!(back, pos);
}

/// An event as the store writes it reads back: its envelope (envelope → event → body →
/// detail), with the detail bounded as the store bounds it on entry, stays within
/// serde_json's nesting limit.
fn reads_back(e: &proto::ChatEvent) {
    let mut e = e.clone();
    if let proto::EventBody::Other { detail, .. } | proto::EventBody::ContactChanged { detail, .. } = &mut e.body {
        *detail = store::bounded_detail(std::mem::take(detail));
    }
    let env = store::Envelope {
        v: proto::SCHEMA_VERSION,
        platform: proto::Platform::Eoffice,
        account: "acct".into(),
        received_at: RECEIVED_AT,
        event: e,
    };
    let bytes = serde_json::to_vec(&env).expect("event serializes");
    if let Err(err) = serde_json::from_slice::<store::Envelope>(&bytes) {
        panic!("stored event does not read back: {err}");
    }
}

// ----- valid samples and their mutations -----

fn eoffice_samples() -> Vec<Vec<u8>> {
    let key = eoffice_key();
    let private = json!(["private message", {
        "message_id": "1795395660001", "message_content": key.encrypt("合同已盖章，请查收"),
        "text_message_content": "合同已盖章，请查收", "message_type": 1, "sender": "zhangsan",
        "sender_name": "张三", "send_time": 1795395660000_i64, "chat_object_id": "admin_zhangsan",
        "withdraw": 0, "type": "user", "to": "admin"
    }]);
    let offline = json!(["group offline info", [{
        "message_id": 1795395720002_i64, "message_content": key.encrypt("@李四 会议纪要"),
        "message_type": 1, "sender": "wangwu", "send_time": "1795395720",
        "room_id": "room_9", "group_name": "农业局项目", "at_list": ["lisi"], "type": "public_group"
    }]]);
    let members = json!(["user add group", {"room_id": "room_9", "members": [
        {"user_id": "lisi", "user_name": "李四"}, 42, "zhaoliu"]}]);
    let presence = json!(["online user change", {"online": {"webUsers": ["a"]}, "offline": {"mobileUsers": ["b"]}}]);
    vec![
        format!("42{private}").into_bytes(),
        format!("4217{offline}").into_bytes(),
        format!("42/chat,{members}").into_bytes(),
        format!("42{presence}").into_bytes(),
        br#"42["withdraw msg",{"chat_id":"room_9","message_id":"17","withdraw_time":1795395721}]"#.to_vec(),
        br#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#.to_vec(),
        br#"44{"message":"token refused"}"#.to_vec(),
        b"451-[\"x\",{\"_placeholder\":true,\"num\":0}]".to_vec(),
    ]
}

fn wecom_samples() -> Vec<Vec<u8>> {
    let crypto = wecom_crypto();
    [
        include_str!("../fixtures/wecom/text.xml"),
        include_str!("../fixtures/wecom/image.xml"),
        include_str!("../fixtures/wecom/change_external_chat_add_member.xml"),
        include_str!("../fixtures/wecom/sys_approval_change.xml"),
        include_str!("../fixtures/wecom/change_contact_update_tag.xml"),
    ]
    .iter()
    .map(|inner| {
        let enc = crypto.encrypt_with_random(inner.as_bytes(), b"0123456789abcdef");
        format!(
            "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\
             <Encrypt><![CDATA[{enc}]]></Encrypt><AgentID>218</AgentID></xml>"
        )
        .into_bytes()
    })
    .collect()
}

fn wecom_inner_samples() -> Vec<Vec<u8>> {
    [
        include_bytes!("../fixtures/wecom/text.xml").to_vec(),
        include_bytes!("../fixtures/wecom/location.xml").to_vec(),
        include_bytes!("../fixtures/wecom/change_external_chat_create.xml").to_vec(),
        include_bytes!("../fixtures/wecom/sys_approval_change.xml").to_vec(),
    ]
    .to_vec()
}

fn goofish_samples() -> Vec<Vec<u8>> {
    vec![
        include_bytes!("../fixtures/goofish/push_text.json").to_vec(),
        include_bytes!("../fixtures/goofish/push_mixed.json").to_vec(),
        include_bytes!("../fixtures/goofish/push_recall_typing_order.json").to_vec(),
    ]
}

/// The decoded bytes of every item of the Goofish sample pushes (MessagePack and JSON).
fn goofish_item_samples() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for push in goofish_samples() {
        let v: Value = serde_json::from_slice(&push).unwrap();
        for item in v["body"]["syncPushPackage"]["data"].as_array().unwrap() {
            let data = item["data"].as_str().unwrap();
            out.push(chatvault_ingest::goofish::content::decode_b64(data).unwrap_or_default());
        }
    }
    assert!(!out.is_empty());
    out
}

fn worktool_samples() -> Vec<(u8, Vec<u8>)> {
    let json = json!({
        "spoken": "你好", "rawSpoken": "@小明 你好", "receivedName": "张三",
        "groupName": "项目群", "groupRemark": "", "roomType": 1, "atMe": "true",
        "textType": 2, "fileBase64": "iVBORw0KGgoAAAANSUhEUg==", "extra": {"k": [1, 2]}
    });
    let multipart = "--wtboundary\r\nContent-Disposition: form-data; name=\"spoken\"\r\n\r\n\
        好的\r\n--wtboundary\r\nContent-Disposition: form-data; name=\"receivedName\"\r\n\r\n\
        李四\r\n--wtboundary\r\nContent-Disposition: form-data; name=\"roomType\"\r\n\r\n\
        4\r\n--wtboundary--\r\n";
    vec![
        (0, json.to_string().into_bytes()),
        (0, br#"{"type":5,"robotId":"r1"}"#.to_vec()),
        (
            1,
            "spoken=%E5%A5%BD&rawSpoken=%40a+b&receivedName=x&roomType=3&atMe=1&textType=1"
                .as_bytes()
                .to_vec(),
        ),
        (2, multipart.as_bytes().to_vec()),
    ]
}

fn yunhu_samples() -> Vec<Vec<u8>> {
    vec![
        include_bytes!("../fixtures/yunhu/push_text.bin").to_vec(),
        include_bytes!("../fixtures/yunhu/push_file.bin").to_vec(),
        include_bytes!("../fixtures/yunhu/push_recall.bin").to_vec(),
        include_bytes!("../fixtures/yunhu/edit_markdown.bin").to_vec(),
        include_bytes!("../fixtures/yunhu/stream_chunk.bin").to_vec(),
        include_bytes!("../fixtures/yunhu/file_send.bin").to_vec(),
        include_bytes!("../fixtures/yunhu/draft_input.bin").to_vec(),
        include_bytes!("../fixtures/yunhu/heartbeat_ack.bin").to_vec(),
    ]
}

/// One edit of a sample: replace, insert or remove a byte, or cut the tail off.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Replace(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Remove),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(sample: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut v = sample.to_vec();
    for e in edits {
        let n = v.len();
        match *e {
            Edit::Replace(i, b) if n > 0 => v[i % n] = b,
            Edit::Insert(i, b) => v.insert(i % (n + 1), b),
            Edit::Remove(i) if n > 0 => {
                v.remove(i % n);
            }
            Edit::Truncate(i) => v.truncate(i % (n + 1)),
            _ => {}
        }
    }
    v
}

/// Up to eight edits of one of `n` samples (by index).
fn mutation(n: usize) -> impl Strategy<Value = (usize, Vec<Edit>)> {
    (0..n, prop::collection::vec(edit(), 1..8))
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..512)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn eoffice_arbitrary_frames(b in bytes()) {
        eoffice_frame(&b);
        let mut framed = b"42".to_vec();
        framed.extend_from_slice(&b);
        eoffice_frame(&framed);
    }

    #[test]
    fn eoffice_mutated_frames((i, edits) in mutation(8)) {
        eoffice_frame(&apply(&eoffice_samples()[i], &edits));
    }

    #[test]
    fn eoffice_arbitrary_payloads(name in prop::sample::select(vec![
        "private message", "group message", "user offline info", "group offline info",
        "message have read", "withdraw msg", "delete msg", "user add group",
        "group delete user", "create group", "delete group", "online user change",
        "change work status", "sync chat list", "refresh page", "no such event",
    ]), (i, edits) in mutation(8)) {
        // The sample's arguments, edited as bytes, under every event name.
        let sample = apply(&eoffice_samples()[i], &edits);
        if let Some(start) = sample.iter().position(|&c| c == b'[')
            && let Ok(Value::Array(a)) = serde_json::from_slice::<Value>(&sample[start..])
        {
            let _ = Codec::new(Some(eoffice_key())).decode(name, a.get(1..).unwrap_or(&[]), RECEIVED_AT);
        }
    }

    #[test]
    fn eoffice_aes_arbitrary_ciphertexts(b in bytes(), s in ".{0,64}") {
        let key = eoffice_key();
        let _ = key.decrypt(&STANDARD.encode(&b));
        let _ = key.decrypt(&s);
        prop_assert_eq!(key.decrypt(&key.encrypt(&s)), Ok(s.clone()));
        let _ = ContentKey::new(&s, &s);
    }

    #[test]
    fn wecom_arbitrary_bodies(b in bytes()) {
        let crypto = wecom_crypto();
        wecom_body(&crypto, &b);
        let _ = crypto.decrypt_unchecked(&STANDARD.encode(&b));
        let _ = wecom::decode(&b);
    }

    #[test]
    fn wecom_mutated_bodies((i, edits) in mutation(5)) {
        wecom_body(&wecom_crypto(), &apply(&wecom_samples()[i], &edits));
    }

    #[test]
    fn wecom_mutated_inner_xml_through_the_envelope((i, edits) in mutation(4)) {
        // Edited after decryption: the signature and AES layers pass, the XML is damaged.
        let crypto = wecom_crypto();
        let inner = apply(&wecom_inner_samples()[i], &edits);
        let enc = crypto.encrypt_with_random(&inner, b"0123456789abcdef");
        prop_assert_eq!(crypto.decrypt(&enc), Ok(inner.clone()));
        let _ = wecom::decode(&inner);
    }

    #[test]
    fn wecom_forged_signatures_are_refused(sig in "[0-9a-f]{40}", enc in "[A-Za-z0-9+/=]{0,64}") {
        let crypto = wecom_crypto();
        let real = crypto.signature("1", "2", &enc);
        prop_assert_eq!(crypto.verify(&sig, "1", "2", &enc).is_ok(), sig == real);
    }

    #[test]
    fn goofish_arbitrary_frames(b in bytes()) {
        goofish_frame(&b);
        goofish_item(&b);
    }

    #[test]
    fn goofish_mutated_pushes((i, edits) in mutation(3)) {
        goofish_frame(&apply(&goofish_samples()[i], &edits));
    }

    #[test]
    fn goofish_mutated_msgpack_items(i in 0usize..64, edits in prop::collection::vec(edit(), 1..8)) {
        let samples = goofish_item_samples();
        goofish_item(&apply(&samples[i % samples.len()], &edits));
    }

    #[test]
    fn worktool_arbitrary_bodies(enc in 0u8..3, b in bytes()) {
        worktool_body(enc, &b);
        let s = String::from_utf8_lossy(&b);
        let _ = worktool::mentions(&s);
        let _ = worktool::decode_file(&s);
    }

    #[test]
    fn worktool_mutated_bodies((i, edits) in mutation(4)) {
        let (enc, sample) = &worktool_samples()[i];
        worktool_body(*enc, &apply(sample, &edits));
    }

    #[test]
    fn yunhu_arbitrary_frames(b in bytes()) {
        yunhu_frame(&b);
        let s = String::from_utf8_lossy(&b);
        let _ = html_to_text(&s);
        let _ = markdown_to_text(&s);
    }

    #[test]
    fn yunhu_mutated_frames((i, edits) in mutation(8)) {
        yunhu_frame(&apply(&yunhu_samples()[i], &edits));
    }

    #[test]
    fn yunhu_markup_arbitrary_text(s in "[<>&#;a-z/ \\[\\]()*_`!\\n中文😀]{0,80}") {
        let _ = html_to_text(&s);
        let _ = markdown_to_text(&s);
    }
}

/// The mutations start from inputs that decode all the way to events; otherwise the edited
/// cases would only exercise the first parser.
#[test]
fn every_sample_decodes_to_events() {
    let codec = Codec::new(Some(eoffice_key()));
    for (i, frame) in eoffice_samples().iter().enumerate().take(5) {
        let text = std::str::from_utf8(frame).unwrap();
        let Ok(engineio::Packet::Message(m)) = engineio::decode(text) else {
            panic!("e-office sample {i} is not a message packet");
        };
        let packet = socketio::decode(m).unwrap();
        let (name, args) = packet.event_parts().unwrap();
        let d = codec.decode(name, args, RECEIVED_AT).unwrap();
        assert!(
            !d.events.is_empty() && d.rejects.is_empty() && d.aes_fallbacks == 0,
            "{i}"
        );
    }
    let crypto = wecom_crypto();
    for body in wecom_samples() {
        let env = wecom::parse_envelope(&body).unwrap();
        let plain = crypto.decrypt(&env.encrypt).unwrap();
        assert_eq!(wecom::decode(&plain).unwrap().events.len(), 1);
    }
    for push in goofish_samples() {
        let frame = LwpFrame::parse(std::str::from_utf8(&push).unwrap()).unwrap();
        let d = decode_sync_push(&frame.body, RECEIVED_AT).unwrap();
        assert!(d.messages > 0);
        // `push_mixed` holds two deliberately corrupt items among four good ones.
        let payloads = d.items.iter().filter(|i| matches!(i, Ingested::Payload { .. })).count();
        assert!(payloads >= d.items.len().min(4), "{payloads} of {}", d.items.len());
    }
    for (enc, body) in worktool_samples() {
        let fields = match enc {
            0 => worktool::parse_json(&body),
            1 => worktool::parse_urlencoded(&body),
            _ => tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(parse_multipart(body.into(), "wtboundary".into())),
        };
        worktool::classify(&fields.unwrap()).unwrap();
    }
    for (i, frame) in yunhu_samples().iter().enumerate() {
        let f = yunhu_decode(frame).unwrap_or_else(|e| panic!("yunhu sample {i}: {e}"));
        let events = frame_events(&f, &mut Position::default(), RECEIVED_AT);
        // Sample 6 is a draft (not archived by default: the account's own unsent text) and the
        // last one a heartbeat ack; neither carries an event.
        assert_eq!(events.is_empty(), i == 6 || i == 7, "yunhu sample {i}");
    }
}

/// Found by reading what the fuzz targets emit: a value nested close to serde_json's limit of
/// 128 levels passed the decoders, was archived, and then could not be read back from its
/// store envelope (`event seq N does not decode: recursion limit exceeded`), so `verify`
/// failed. Each decoder that keeps platform fields in `detail` now bounds their depth.
#[test]
fn deeply_nested_platform_values_read_back_from_the_store() {
    let arr = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    // e-office: an event outside the catalogue, its arguments nested 126 deep.
    let frame = format!("42[\"hello\",{}]", arr(126));
    let engineio::Packet::Message(m) = engineio::decode(&frame).unwrap() else {
        panic!("not a message packet");
    };
    let packet = socketio::decode(m).unwrap();
    let (name, args) = packet.event_parts().unwrap();
    let d = Codec::new(None).decode(name, args, RECEIVED_AT).unwrap();
    assert_eq!(d.events.len(), 1);
    d.events.iter().for_each(reads_back);

    // WorkTool: an unrecognised callback whose fields nest 127 deep.
    let body = format!("{{\"type\":9,\"x\":{}}}", arr(126));
    let fields = worktool::parse_json(body.as_bytes()).unwrap();
    let Callback::Other { subtype } = worktool::classify(&fields).unwrap() else {
        panic!("not an `other` callback");
    };
    reads_back(&worktool::other_event(&subtype, &fields));

    // Goofish: a JSON system item and a MessagePack chat item 127 levels deep decode and read
    // back; a MessagePack item 500 deep (within rmpv's own limit) is rejected. All on a
    // stack the size of a tokio worker's (2 MiB), where the 500-deep item used to overflow
    // the stack and abort the process.
    let json_item = format!("{{\"x\":{}}}", arr(126));
    let msgpack_item = |levels: usize| {
        let mut b = b"\x81\xa11".to_vec();
        b.extend(std::iter::repeat_n(0x91u8, levels - 1));
        b.push(0xc0);
        b
    };
    let (ok, too_deep) = (msgpack_item(127), msgpack_item(500));
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            for bytes in [json_item.into_bytes(), ok] {
                let item = json!({ "data": STANDARD.encode(&bytes) });
                let events = match decode_item(&item, RECEIVED_AT) {
                    Ingested::Payload { events, .. } => events,
                    Ingested::Rejected { reason, .. } => panic!("item rejected: {reason}"),
                };
                assert_eq!(events.len(), 1);
                events.iter().for_each(reads_back);
            }
            let item = json!({ "data": STANDARD.encode(&too_deep) });
            let Ingested::Rejected { reason, .. } = decode_item(&item, RECEIVED_AT) else {
                panic!("500-deep item accepted");
            };
            assert!(reason.contains("depth"), "{reason}");
        })
        .unwrap()
        .join()
        .unwrap();
}
