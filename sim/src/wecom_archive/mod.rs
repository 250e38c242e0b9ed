//! A scripted 会话存档 world for the stand-in Finance SDK (`finance::standin`): employees, an
//! internal group, a customer group, one-to-one chats in both directions, a day with every
//! message type of protocols.md §2.5, a recall, a `switch`, media in several 512 KiB chunks,
//! items under two public-key versions, and one under a third version whose key the archive
//! is not given at first.
//!
//! [`NamesApi`] answers the archive's name lookups (group, customer, employee names) for the
//! same world.
//!
//! The RSA layer is real: each item's random key is encrypted with the public key of its
//! `publickey_ver` (PKCS#1 v1.5), exactly what the connector must undo. The keys in `keys/`
//! are throwaway keys made for this simulator; they protect nothing.

mod api;

pub use api::{
    ARCHIVE_SECRET, CONTACT_SECRET, CUSTOMER_GROUP_NAME, CUSTOMER_NAME, EMPLOYEES, INTERNAL_GROUP_NAME, NamesApi,
    USER_SECRET,
};

use std::path::{Path, PathBuf};

use finance::standin::{self, Fault, World};
use md5::{Digest, Md5};
use rand::Rng;
use rsa::PrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use serde_json::{Value, json};

/// Private key of `publickey_ver` 1 (PKCS#1 PEM).
pub const KEY_V1: &str = include_str!("keys/v1.pem");
/// Private key of `publickey_ver` 2 (PKCS#8 PEM).
pub const KEY_V2: &str = include_str!("keys/v2.pem");
/// Private key of `publickey_ver` 3, the one the archive is not configured with at first.
pub const KEY_V3: &str = include_str!("keys/v3.pem");

/// Corp id of the world.
pub const CORP_ID: &str = "wwstandin0000001";
/// Internal group.
pub const INTERNAL_GROUP: &str = "wrInternalGroup0000000000000001";
/// Customer group.
pub const CUSTOMER_GROUP: &str = "wrCustomerGroup0000000000000001";
/// The external customer.
pub const CUSTOMER: &str = "wmCustomer00000000000000000000001";
/// The message that is recalled.
pub const RECALLED_MSGID: &str = "15775510700152506326_1603875615";
/// Its text.
pub const RECALLED_TEXT: &str = "这个价格可以再优惠百分之二十";
/// The text only the version-3 key decrypts.
pub const V3_TEXT: &str = "只有第三版密钥才能解开的消息";
/// Every text-searchable word of the one-to-one chat, for tests.
pub const DIRECT_TEXT: &str = "明天的合同评审改到下午三点";

/// One scripted item: its version and the message JSON.
#[derive(Debug, Clone)]
pub struct ScriptItem {
    /// `seq` in the feed.
    pub seq: u64,
    /// `publickey_ver`.
    pub version: u32,
    /// The decrypted message.
    pub message: Value,
}

impl ScriptItem {
    /// Whether the item is a message (`send`), not a recall or a switch.
    pub fn is_message(&self) -> bool {
        self.message["action"] == "send"
    }
}

/// A media file of the world.
#[derive(Debug, Clone)]
pub struct MediaFile {
    /// `sdkfileid`.
    pub id: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// The scripted day starting at `t0` (ms) and its media.
pub fn script(t0: i64) -> (Vec<ScriptItem>, Vec<MediaFile>) {
    let media = vec![
        MediaFile {
            id: "SDKFILE_IMAGE_1".into(),
            bytes: pattern(1_300_000, 3),
        },
        MediaFile {
            id: "SDKFILE_VIDEO_1".into(),
            bytes: pattern(600_000, 5),
        },
        MediaFile {
            id: "SDKFILE_FILE_1".into(),
            bytes: pattern(20_000, 7),
        },
    ];
    let md5 = |i: usize| hex::encode(Md5::digest(&media[i].bytes));
    let (zs, ls, ww) = ("zhangsan", "lisi", "wangwu");
    let g = INTERNAL_GROUP;
    let inner = |v: Value| v.to_string();
    // (from, to, room, msgtype, body)
    let rows: Vec<(&str, &str, &str, &str, Value)> = vec![
        (zs, ls, "", "text", json!({"content": DIRECT_TEXT})),
        (ls, zs, "", "text", json!({"content": "好的，收到，我通知法务"})),
        (ww, "", g, "text", json!({"content": "报销流程已更新，请大家查看"})),
        (zs, "", g, "markdown", json!({"content": "**季度目标** 完成率 95%"})),
        (
            ls,
            "",
            g,
            "image",
            json!({"sdkfileid": media[0].id, "md5sum": md5(0), "filesize": media[0].bytes.len()}),
        ),
        (
            ww,
            zs,
            "",
            "voice",
            json!({"sdkfileid": "SDKFILE_VOICE_MISSING", "md5sum": "00", "voice_size": 4000, "play_length": 5}),
        ),
        (
            zs,
            "",
            g,
            "video",
            json!({"sdkfileid": media[1].id, "md5sum": md5(1), "filesize": media[1].bytes.len(), "play_length": 12}),
        ),
        (
            ls,
            "",
            g,
            "file",
            json!({"sdkfileid": media[2].id, "md5sum": md5(2), "filename": "报价单.xlsx", "fileext": "xlsx", "filesize": media[2].bytes.len()}),
        ),
        (
            ww,
            "",
            g,
            "emotion",
            json!({"type": 2, "width": 100, "height": 100, "imagesize": 0}),
        ),
        (zs, ls, "", "card", json!({"corpname": "示例公司", "userid": "zhaoliu"})),
        (
            ls,
            zs,
            "",
            "location",
            json!({"longitude": 116.3, "latitude": 39.9, "address": "北京市海淀区", "title": "公司总部", "zoom": 15}),
        ),
        (
            zs,
            "",
            g,
            "link",
            json!({"title": "年度报告", "description": "2026 年度经营报告", "link_url": "https://example.com/report", "image_url": ""}),
        ),
        (
            ww,
            "",
            g,
            "weapp",
            json!({"title": "审批", "description": "差旅审批", "username": "gh_1", "displayname": "企业审批"}),
        ),
        (
            ls,
            "",
            g,
            "chatrecord",
            json!({"title": "群聊的聊天记录", "item": [
            {"type": "ChatRecordText", "msgtime": t0 / 1000, "content": inner(json!({"content": "转发的第一句"})), "from_chatroom": false},
            {"type": "ChatRecordText", "msgtime": t0 / 1000, "content": inner(json!({"content": "转发的第二句"})), "from_chatroom": false}]}),
        ),
        (zs, "", g, "todo", json!({"title": "提交周报", "content": "周五前提交"})),
        (
            ls,
            "",
            g,
            "vote",
            json!({"votetitle": "团建地点", "voteitem": ["香山", "颐和园"], "votetype": 101, "voteid": "v1"}),
        ),
        (
            ww,
            "",
            g,
            "collect",
            json!({"room_name": "群", "creator": ww, "create_time": "2026-01-01", "title": "午餐统计", "details": [{"id": 1, "ques": "想吃什么", "type": "Text"}]}),
        ),
        (
            zs,
            ls,
            "",
            "redpacket",
            json!({"type": 1, "wish": "恭喜发财", "totalcnt": 1, "totalamount": 888}),
        ),
        (
            CUSTOMER,
            zs,
            "",
            "external_redpacket",
            json!({"type": 1, "wish": "合作愉快", "totalcnt": 1, "totalamount": 100}),
        ),
        (
            zs,
            "",
            g,
            "meeting",
            json!({"topic": "项目例会", "starttime": 1, "endtime": 2, "address": "三楼会议室", "remarks": "带电脑", "meetingtype": 102, "meetingid": 1, "status": 1}),
        ),
        (
            ls,
            "",
            g,
            "docmsg",
            json!({"title": "需求文档", "link_url": "https://doc.example.com/1", "doc_creator": ls}),
        ),
        (
            ww,
            "",
            g,
            "news",
            json!({"item": [{"title": "公司新闻", "description": "新办公室启用", "url": "https://example.com/n", "picurl": ""}]}),
        ),
        (
            zs,
            "",
            g,
            "calendar",
            json!({"title": "客户拜访", "creatorname": zs, "attendeename": [ls], "starttime": 1, "endtime": 2, "place": "客户公司", "remarks": "准备样品"}),
        ),
        (
            ls,
            "",
            g,
            "mixed",
            json!({"item": [{"type": "text", "content": inner(json!({"content": "图文混排的文字"}))}, {"type": "image", "content": inner(json!({"md5sum": "00", "filesize": 1, "sdkfileid": "x"}))}]}),
        ),
        (
            zs,
            "",
            g,
            "meeting_voice_call",
            json!({"endtime": 1, "sdkfileid": "SDKFILE_CALL_MISSING", "demofiledata": []}),
        ),
        (
            ww,
            "",
            g,
            "voip_doc_share",
            json!({"filename": "共享方案.pptx", "md5sum": "00", "filesize": 10, "sdkfileid": "SDKFILE_DOC_MISSING"}),
        ),
        (
            ls,
            zs,
            "",
            "sphfeed",
            json!({"feed_type": 4, "sph_name": "示例视频号", "feed_desc": "产品发布会"}),
        ),
        (zs, ls, "", "voiptext", json!({"callduration": 65, "invitetype": 1})),
        (ww, "", g, "qydiskfile", json!({"filename": "合同模板.docx"})),
        (CUSTOMER, zs, "", "agree", json!({"userid": CUSTOMER, "agree_time": t0})),
        (
            CUSTOMER,
            zs,
            "",
            "disagree",
            json!({"userid": CUSTOMER, "disagree_time": t0}),
        ),
        (
            CUSTOMER,
            "",
            CUSTOMER_GROUP,
            "text",
            json!({"content": "请问什么时候发货？"}),
        ),
        (zs, "", CUSTOMER_GROUP, "text", json!({"content": "明天上午发货"})),
        (
            ls,
            "",
            g,
            "future_type",
            json!({"anything": "a type this archive does not know yet"}),
        ),
    ];
    let mut items = Vec::new();
    let mut seq = 0u64;
    let mut push = |version: u32, message: Value, items: &mut Vec<ScriptItem>| {
        seq += 1;
        items.push(ScriptItem { seq, version, message });
    };
    for (i, (from, to, room, msgtype, body)) in rows.into_iter().enumerate() {
        let tolist: Vec<&str> = if to.is_empty() { vec![zs, ls, ww] } else { vec![to] };
        let mut m = json!({"msgid": format!("msg{:04}_{}", i + 1, t0 / 1000), "action": "send", "from": from,
                           "tolist": tolist, "roomid": room, "msgtime": t0 + i as i64 * 60_000, "msgtype": msgtype});
        m[msgtype] = body;
        push(if i % 2 == 0 { 1 } else { 2 }, m, &mut items);
    }
    let t = t0 + 3_600_000;
    push(
        1,
        json!({"msgid": RECALLED_MSGID, "action": "send", "from": zs, "tolist": [CUSTOMER], "roomid": "",
               "msgtime": t, "msgtype": "text", "text": {"content": RECALLED_TEXT}}),
        &mut items,
    );
    push(
        2,
        json!({"msgid": format!("recall_{}", t0 / 1000), "action": "recall", "from": zs, "tolist": [CUSTOMER], "roomid": "",
               "msgtime": t + 30_000, "msgtype": "revoke", "revoke": {"pre_msgid": RECALLED_MSGID}}),
        &mut items,
    );
    push(
        1,
        json!({"msgid": format!("switch_{}", t0 / 1000), "action": "switch", "time": t + 40_000, "user": ww}),
        &mut items,
    );
    push(
        3,
        json!({"msgid": format!("v3msg_{}", t0 / 1000), "action": "send", "from": ls, "tolist": [ww], "roomid": "",
               "msgtime": t + 50_000, "msgtype": "text", "text": {"content": V3_TEXT}}),
        &mut items,
    );
    (items, media)
}

fn pattern(len: usize, step: u32) -> Vec<u8> {
    (0..len as u32).map(|i| (i.wrapping_mul(step) % 251) as u8).collect()
}

fn private_key(version: u32) -> PrivateKey {
    match version {
        1 => PrivateKey::from_pkcs1_pem(KEY_V1).expect("simulator key v1"),
        2 => PrivateKey::from_pkcs8_pem(KEY_V2).expect("simulator key v2"),
        _ => PrivateKey::from_pkcs1_pem(KEY_V3).expect("simulator key v3"),
    }
}

/// Turns messages into chatdata items the way Tencent's servers would (random key per item,
/// RSA-encrypted for its version).
pub struct Encryptor {
    keys: Vec<(u32, rsa::PublicKey)>,
}

impl Default for Encryptor {
    fn default() -> Self {
        Encryptor {
            keys: (1..=3).map(|v| (v, private_key(v).to_public_key())).collect(),
        }
    }
}

impl Encryptor {
    /// The chatdata item of one scripted message.
    pub fn item(&self, it: &ScriptItem) -> Value {
        use base64::Engine;
        let random_key: String = rand::rng()
            .sample_iter(rand::distr::Alphanumeric)
            .take(32)
            .map(char::from)
            .collect();
        let pk = &self
            .keys
            .iter()
            .find(|(v, _)| *v == it.version)
            .expect("versions 1..=3")
            .1;
        let ek = pk.pkcs1v15_encrypt(random_key.as_bytes()).expect("RSA encrypt");
        json!({"seq": it.seq, "msgid": it.message["msgid"], "publickey_ver": it.version,
               "encrypt_random_key": base64::engine::general_purpose::STANDARD.encode(ek),
               "encrypt_chat_msg": standin::encrypt(&random_key, it.message.to_string().as_bytes())})
    }
}

/// An installed stand-in serving a world.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The stand-in library (`sdk_path`).
    pub sdk_path: PathBuf,
    /// The scripted items.
    pub items: Vec<ScriptItem>,
    /// Media files.
    pub media: Vec<MediaFile>,
    /// The PEM files of versions 1, 2 and 3.
    pub key_files: [PathBuf; 3],
}

/// Installs the stand-in and the scripted world (starting at `t0`) under `dir`, with faults.
pub fn install(dir: &Path, t0: i64, faults: &[(Fault, PathBuf)]) -> std::io::Result<Installed> {
    let sdk_path = standin::install(dir)?;
    let (items, media) = script(t0);
    let mut world = World::new();
    let enc = Encryptor::default();
    for it in &items {
        world.item(it.seq, &enc.item(it));
    }
    for m in &media {
        let p = dir.join(&m.id);
        std::fs::write(&p, &m.bytes)?;
        world.media(&m.id, &p);
    }
    for (f, marker) in faults {
        world.fault(*f, marker);
    }
    world.write(&sdk_path)?;
    let mut key_files = [dir.join("v1.pem"), dir.join("v2.pem"), dir.join("v3.pem")];
    for (p, pem) in key_files.iter_mut().zip([KEY_V1, KEY_V2, KEY_V3]) {
        std::fs::write(&*p, pem)?;
    }
    Ok(Installed {
        sdk_path,
        items,
        media,
        key_files,
    })
}

/// How many items' random keys one core recovers per second (RSA-2048 PKCS#1 v1.5 private-key
/// decryption, the step the archive must do for every item), measured over `n` items: the
/// ceiling of a 会话存档 pull on this machine, for benchmarks to print beside their rate.
pub fn rsa_decrypts_per_second(n: usize) -> f64 {
    use base64::Engine;
    let cts: Vec<Vec<u8>> = encrypted_random_keys(n)
        .iter()
        .map(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap_or_default()
        })
        .collect();
    let key = private_key(1);
    let started = std::time::Instant::now();
    let ok = cts.iter().filter(|ct| key.pkcs1v15_decrypt(ct).is_ok()).count();
    ok as f64 / started.elapsed().as_secs_f64()
}

/// `n` items' `encrypt_random_key` values (base64, key version 1), each for its own random key
/// as Tencent's servers would send them.
pub fn encrypted_random_keys(n: usize) -> Vec<String> {
    let enc = Encryptor::default();
    (0..n.max(1) as u64)
        .map(|seq| {
            let it = ScriptItem {
                seq,
                version: 1,
                message: json!({}),
            };
            enc.item(&it)["encrypt_random_key"].as_str().unwrap_or("").to_string()
        })
        .collect()
}

/// Installs the stand-in with a world of `messages` (seq 1, 2, …, all under key version 1),
/// written as they are encrypted rather than gathered first: a benchmark's world of hundreds
/// of thousands of items never sits in memory. The returned [`Installed`] lists no items.
pub fn install_bulk(dir: &Path, messages: impl Iterator<Item = Value>) -> std::io::Result<Installed> {
    use std::io::Write;
    let sdk_path = standin::install(dir)?;
    let enc = Encryptor::default();
    // The world format of `finance/standin/standin.c`: one `item <seq> <json>` line each.
    let mut f = std::io::BufWriter::new(std::fs::File::create(standin::world_path(&sdk_path))?);
    for (seq, message) in (1..).zip(messages) {
        let it = ScriptItem {
            seq,
            version: 1,
            message,
        };
        writeln!(f, "item {seq} {}", enc.item(&it))?;
    }
    f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    let mut key_files = [dir.join("v1.pem"), dir.join("v2.pem"), dir.join("v3.pem")];
    for (p, pem) in key_files.iter_mut().zip([KEY_V1, KEY_V2, KEY_V3]) {
        std::fs::write(&*p, pem)?;
    }
    Ok(Installed {
        sdk_path,
        items: vec![],
        media: vec![],
        key_files,
    })
}

/// Appends more items to an installed world (the feed grows while the archive runs).
pub fn append(inst: &mut Installed, more: &[Value], faults: &[(Fault, PathBuf)]) -> std::io::Result<()> {
    let enc = Encryptor::default();
    let mut world = World::new();
    let last = inst.items.last().map_or(0, |i| i.seq);
    for (seq, m) in (last + 1..).zip(more) {
        inst.items.push(ScriptItem {
            seq,
            version: 1,
            message: m.clone(),
        });
    }
    for it in &inst.items {
        world.item(it.seq, &enc.item(it));
    }
    let dir = inst.sdk_path.parent().unwrap_or(Path::new("."));
    for m in &inst.media {
        world.media(&m.id, &dir.join(&m.id));
    }
    for (f, marker) in faults {
        world.fault(*f, marker);
    }
    world.write(&inst.sdk_path)
}

/// A `[[wecom_archive]]` section for an installed world with the keys of `versions`;
/// `extra` holds more `key = value` lines (e.g. `poll_interval = "200ms"`). Without an
/// `api_base` in `extra` (see [`NamesApi::config_lines`]) the section sets `names = false`,
/// so that nothing is asked of Tencent's real API.
pub fn config_toml(name: &str, inst: &Installed, versions: &[u32], extra: &str) -> String {
    let names = if extra.contains("api_base") {
        ""
    } else {
        "names = false\n"
    };
    let mut s = format!(
        "[[wecom_archive]]\nname = \"{name}\"\ncorp_id = \"{CORP_ID}\"\nsecret = \"{ARCHIVE_SECRET}\"\nsdk_path = \"{}\"\n{names}{extra}\n",
        inst.sdk_path.display()
    );
    for v in versions {
        s.push_str(&format!(
            "[[wecom_archive.private_keys]]\nversion = {v}\npem = \"{}\"\n",
            inst.key_files[(*v as usize).clamp(1, 3) - 1].display()
        ));
    }
    s
}
