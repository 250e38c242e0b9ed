//! Building small archives and reading exports back.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMillisecondType};
use arrow_array::{
    Array, BooleanArray, Int64Array, ListArray, RecordBatch, StringArray, StructArray, TimestampMillisecondArray,
};
use export::{ExportOptions, ExportSummary, run_export};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use proto::{
    Attachment, ChatEvent, ChatType, ContentType, EventBatch, Ingested, MessageKey, MessageRecord, MessageState,
    NewMessage, Platform, RawPayload,
};
use store::{Store, StoreOptions};

/// 2026-03-01T00:00:00Z.
pub const DAY0: i64 = 1_772_323_200_000;
pub const HOUR: i64 = 3_600_000;
pub const DAY: i64 = 24 * HOUR;

/// A temporary archive with its export directory.
pub struct Archive {
    pub dir: tempfile::TempDir,
    store: Store,
    n: u64,
}

impl Archive {
    pub fn new() -> Archive {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            &dir.path().join("data"),
            StoreOptions {
                synchronous_full: false,
                ..Default::default()
            },
        )
        .unwrap();
        Archive { dir, store, n: 0 }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn out_dir(&self) -> PathBuf {
        self.dir.path().join("data/export")
    }

    /// Appends events as one payload received at `received_at`.
    pub fn append(&mut self, platform: Platform, account: &str, received_at: i64, events: Vec<ChatEvent>) {
        self.n += 1;
        let raw = RawPayload {
            received_at,
            media_type: proto::batch::media::JSON.into(),
            bytes: format!("{{\"n\":{}}}", self.n).into_bytes().into(),
        };
        let (batch, _rx) = EventBatch::new(platform, account, vec![Ingested::Payload { raw, events }], None);
        let infos = self.store.append(&[&batch]).unwrap();
        assert_eq!(infos[0].rejected, 0, "{infos:?}");
    }

    /// In a [`two_platform_archive`]: edits the text of its second wecom message (a report of
    /// 2026-03-02 in Shanghai) to `改过的报告`, on day 3.
    pub fn edit_the_report(&mut self) {
        self.append(
            Platform::Wecom,
            "corp",
            DAY0 + 3 * DAY,
            vec![edit("c1", "wecom1", "改过的报告", DAY0 + 3 * DAY)],
        );
    }

    /// In a [`two_platform_archive`]: a second version (`第二版`) of every message, on day 4,
    /// so that every partition has changed.
    pub fn edit_every_message(&mut self) {
        for (p, acct, n) in TWO_PLATFORMS {
            let edits = (0..n)
                .map(|i| edit("c1", &format!("{p}{i}"), "第二版", DAY0 + 4 * DAY))
                .collect();
            self.append(p, acct, DAY0 + 4 * DAY, edits);
        }
    }

    /// Appends text message `id` of `chat` ([`new_message`]), sent and received at `at`.
    pub fn append_text(&mut self, platform: Platform, account: &str, chat: &str, id: &str, at: i64, text: &str) {
        self.append(platform, account, at, vec![msg(chat, id, new_message(at, text))]);
    }

    pub fn export(&self, tz: chrono_tz::Tz, full: bool) -> ExportSummary {
        self.try_export(tz, full).unwrap()
    }

    pub fn try_export(&self, tz: chrono_tz::Tz, full: bool) -> export::Result<ExportSummary> {
        run_export(&self.export_options(tz, full), &mut |_| {})
    }

    /// The options of an export to [`Archive::out_dir`] with the default file mode.
    pub fn export_options(&self, tz: chrono_tz::Tz, full: bool) -> ExportOptions {
        ExportOptions {
            data_dir: self.data_dir(),
            out_dir: self.out_dir(),
            tz,
            full,
            file_mode: export::DEFAULT_FILE_MODE,
        }
    }

    pub fn reader(&self) -> store::StoreReader {
        store::StoreReader::open(&self.data_dir()).unwrap()
    }
}

pub use testkit::{edit, message as msg, withdraw};

/// A text in the expense group, from zhangsan (张三).
pub fn new_message(sent_at: i64, text: &str) -> NewMessage {
    NewMessage {
        chat_name: Some("报销群".into()),
        sender_id: "zhangsan".into(),
        ..testkit::text(text, sent_at)
    }
}

pub fn attachment(name: &str, size: u64) -> Attachment {
    Attachment {
        name: Some(name.into()),
        mime: Some("application/pdf".into()),
        size: Some(size),
        url: None,
        sha256: Some("ab".repeat(32)),
    }
}

/// The standard output of `cmd` (a reader of the export: DuckDB, pyarrow, delta-rs), which must
/// succeed; a failure shows both its outputs, as `what`'s.
pub fn stdout_of(what: &str, cmd: &mut Command) -> String {
    let o = cmd.output().expect("python runs");
    assert!(
        o.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// What DuckDB reads of an export at `root` (a folder or an `s3://` URL; the script defines
/// `root` and the connection `con` first): counts, partitions, column types and a few values,
/// one `name value` line each.
pub const DUCKDB_READS: &str = r#"
m = f"read_parquet('{root}/messages/**/*.parquet', hive_partitioning=true)"
e = f"read_parquet('{root}/events/**/*.parquet', hive_partitioning=true)"
print("messages", con.execute(f"SELECT count(*) FROM {m}").fetchone()[0])
print("events", con.execute(f"SELECT count(*) FROM {e}").fetchone()[0])
for row in con.execute(f"SELECT platform, count(*) FROM {m} GROUP BY 1 ORDER BY 1").fetchall():
    print("platform", row[0], row[1])
types = dict((r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {m}").fetchall())
print("sent_at", types["sent_at"])
print("date", types["date"])
print("mentions", types["mentions"])
print("withdrawn", con.execute(f"SELECT count(*) FROM {m} WHERE state = 'withdrawn' AND withdrawn_at IS NOT NULL").fetchone()[0])
print("first", con.execute(f"SELECT strftime(min(sent_at) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') FROM {m}").fetchone()[0])
print("attachment", con.execute(f"SELECT attachments[1].name FROM {m} LIMIT 1").fetchone()[0])
print("kinds", con.execute(f"SELECT string_agg(DISTINCT kind, ',' ORDER BY kind) FROM {e}").fetchone()[0])
"#;

/// The lines [`DUCKDB_READS`] prints for the first export of [`two_platform_archive`] in
/// Shanghai dates.
pub const DUCKDB_SEES: &[&str] = &[
    "messages 5",
    "events 6",
    "platform goofish 2",
    "platform wecom 3",
    "sent_at TIMESTAMP WITH TIME ZONE",
    "date DATE",
    "mentions VARCHAR[]",
    "withdrawn 1",
    "first 2026-03-01 00:00",
    "attachment 报告.pdf",
    "kinds message,withdraw",
];

/// Asserts that each of `want` is a whole line of a reader's output `out`.
pub fn assert_has_lines(out: &str, want: &[&str]) {
    let lines: Vec<&str> = out.lines().collect();
    for want in want {
        assert!(lines.contains(want), "missing {want:?} in\n{out}");
    }
}

/// Every batch of a Parquet file, and its Arrow schema.
pub fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    b.build().unwrap().map(|r| r.unwrap()).collect()
}

/// Column `name` of `b`, which holds strings.
pub fn strs(b: &RecordBatch, name: &str) -> StringArray {
    b.column_by_name(name).unwrap().as_string::<i32>().clone()
}

fn opt_str(a: &StringArray, i: usize) -> Option<String> {
    a.is_valid(i).then(|| a.value(i).to_string())
}

/// Column `name` of `b`, which holds timestamps.
pub fn ts(b: &RecordBatch, name: &str) -> TimestampMillisecondArray {
    b.column_by_name(name)
        .unwrap()
        .as_primitive::<TimestampMillisecondType>()
        .clone()
}

/// Column `name` of `b`, which holds 64-bit integers.
pub fn ints(b: &RecordBatch, name: &str) -> Int64Array {
    b.column_by_name(name).unwrap().as_primitive::<Int64Type>().clone()
}

fn opt_ts(a: &TimestampMillisecondArray, i: usize) -> Option<i64> {
    a.is_valid(i).then(|| a.value(i))
}

fn list_strs(a: &ListArray, i: usize) -> Vec<String> {
    let v = a.value(i);
    let s = v.as_string::<i32>();
    (0..s.len()).map(|j| s.value(j).to_string()).collect()
}

/// Decodes a `messages` file back into records (platform from the partition path).
pub fn decode_messages(platform: Platform, batches: &[RecordBatch]) -> Vec<MessageRecord> {
    let mut out = Vec::new();
    for b in batches {
        let (account, chat, id) = (strs(b, "account"), strs(b, "chat_id"), strs(b, "msg_id"));
        let (chat_type, chat_name, sender_id, sender_name) = (
            strs(b, "chat_type"),
            strs(b, "chat_name"),
            strs(b, "sender_id"),
            strs(b, "sender_name"),
        );
        let (content_type, text, reply_to, state) = (
            strs(b, "content_type"),
            strs(b, "text"),
            strs(b, "reply_to"),
            strs(b, "state"),
        );
        let (withdrawn_by, deleted_by) = (strs(b, "withdrawn_by"), strs(b, "deleted_by"));
        let external = b
            .column_by_name("external")
            .unwrap()
            .as_any()
            .downcast_ref::<BooleanArray>()
            .unwrap();
        let (sent, recv, edited, withdrawn, deleted) = (
            ts(b, "sent_at"),
            ts(b, "received_at"),
            ts(b, "edited_at"),
            ts(b, "withdrawn_at"),
            ts(b, "deleted_at"),
        );
        let (revision, last_seq) = (ints(b, "revision"), ints(b, "last_seq"));
        let mentions = b.column_by_name("mentions").unwrap().as_list::<i32>().clone();
        let recipients = b.column_by_name("recipients").unwrap().as_list::<i32>().clone();
        let attachments = b.column_by_name("attachments").unwrap().as_list::<i32>().clone();
        let (text_format, source_text) = (strs(b, "text_format"), strs(b, "source_text"));
        let deleted_for = b.column_by_name("deleted_for").unwrap().as_list::<i32>().clone();
        for i in 0..b.num_rows() {
            let dels = deleted_for.value(i);
            let dels = dels.as_any().downcast_ref::<StructArray>().unwrap();
            let (du, dat) = (
                dels.column(0).as_string::<i32>(),
                dels.column(1)
                    .as_primitive::<arrow_array::types::TimestampMillisecondType>(),
            );
            let deleted_for = (0..dels.len())
                .map(|j| proto::UserDeletion {
                    user: opt_str(du, j),
                    at: dat.value(j),
                })
                .collect();
            let atts = attachments.value(i);
            let atts = atts.as_any().downcast_ref::<StructArray>().unwrap();
            let (an, am, asz, au, ash) = (
                atts.column(0).as_string::<i32>(),
                atts.column(1).as_string::<i32>(),
                atts.column(2).as_any().downcast_ref::<Int64Array>().unwrap(),
                atts.column(3).as_string::<i32>(),
                atts.column(4).as_string::<i32>(),
            );
            let attachments = (0..atts.len())
                .map(|j| Attachment {
                    name: opt_str(an, j),
                    mime: opt_str(am, j),
                    size: asz.is_valid(j).then(|| asz.value(j) as u64),
                    url: opt_str(au, j),
                    sha256: opt_str(ash, j),
                })
                .collect();
            out.push(MessageRecord {
                key: MessageKey {
                    platform,
                    account: account.value(i).into(),
                    chat_id: chat.value(i).into(),
                    msg_id: id.value(i).into(),
                },
                chat_type: chat_type.value(i).parse::<ChatType>().unwrap(),
                chat_name: opt_str(&chat_name, i),
                external: external.value(i),
                sender_id: sender_id.value(i).into(),
                sender_name: opt_str(&sender_name, i),
                sent_at: sent.value(i),
                received_at: recv.value(i),
                content_type: content_type.value(i).parse::<ContentType>().unwrap(),
                text: text.value(i).into(),
                text_format: text_format.value(i).parse::<proto::TextFormat>().unwrap(),
                source_text: opt_str(&source_text, i),
                attachments,
                reply_to: opt_str(&reply_to, i),
                mentions: list_strs(&mentions, i),
                recipients: list_strs(&recipients, i),
                state: state.value(i).parse::<MessageState>().unwrap(),
                revision: revision.value(i) as u32,
                edited_at: opt_ts(&edited, i),
                withdrawn_at: opt_ts(&withdrawn, i),
                withdrawn_by: opt_str(&withdrawn_by, i),
                deleted_at: opt_ts(&deleted, i),
                deleted_by: opt_str(&deleted_by, i),
                deleted_for,
                last_seq: last_seq.value(i) as u64,
            });
        }
    }
    out
}

/// The manifest of an export directory.
pub fn manifest(out: &Path) -> export::Manifest {
    export::Manifest::load(out).unwrap().expect("a manifest")
}

/// Every `.parquet` file under `dir`, relative, sorted.
pub fn parquet_files(dir: &Path) -> Vec<String> {
    files_under(dir, &|p| p.extension().is_some_and(|x| x == "parquet"))
}

/// Every file under `dir` (including hidden ones), relative, sorted.
pub fn all_files(dir: &Path) -> Vec<String> {
    files_under(dir, &|_| true)
}

/// The files under `dir` that `keep` accepts, relative, sorted; none if `dir` is missing.
fn files_under(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, keep, out);
            } else if keep(&p) {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, keep, &mut out);
    out.sort();
    out
}

/// sha256 of a file.
pub fn sha256_file(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// Five messages on two platforms over three days, with mentions, an attachment and one
/// withdrawal: what the peers (DuckDB, pyarrow, the lake) read back.
/// The connectors of a [`two_platform_archive`], and how many messages each has.
const TWO_PLATFORMS: [(Platform, &str, i64); 2] = [(Platform::Wecom, "corp", 3), (Platform::Goofish, "shop", 2)];

pub fn two_platform_archive() -> Archive {
    let mut a = Archive::new();
    for (p, acct, n) in TWO_PLATFORMS {
        let events = (0..n)
            .map(|i| {
                let mut m = new_message(DAY0 + i * DAY, "农业局的报告已经提交");
                m.mentions = vec!["lisi".into()];
                m.attachments = vec![attachment("报告.pdf", 10)];
                msg("c1", &format!("{p}{i}"), m)
            })
            .collect();
        a.append(p, acct, DAY0 + 2 * DAY, events);
    }
    a.append(
        Platform::Wecom,
        "corp",
        DAY0 + 2 * DAY,
        vec![withdraw("c1", "wecom0", "zhangsan", DAY0 + 2 * DAY)],
    );
    a
}
