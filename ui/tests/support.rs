//! A small archive with both 农业 texts, an edit, a withdrawal, an attachment and a second
//! chat, indexed; users of each kind; the UI served on a free port; a client that keeps
//! cookies by hand (so tests can tamper with them).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use chatvault_ui as ui;
use proto::{Attachment, ConnectorStatus, NewMessage, Platform};
use sha2::{Digest, Sha256};
use store::access::{AccessDb, Role, Scope};
use testkit::farm::{farm_chat, farm_text};
use testkit::{batch, connector_state, delete, message, payload, text, withdraw};
use tokio_util::sync::CancellationToken;

pub const T0: i64 = 1_760_000_000_000;
pub const PASSWORD: &str = "correct horse 电池";
pub const ATTACHMENT: &[u8] = b"%PDF-1.4 contract bytes";

/// Builds the archive and index in `dir`.
pub fn archive(dir: &Path) {
    let mut store = open_store(dir);
    let sha = hex::encode(Sha256::digest(ATTACHMENT));
    std::fs::create_dir_all(dir.join("blobs")).unwrap();
    std::fs::write(dir.join("blobs").join(&sha), ATTACHMENT).unwrap();
    let secret = |t: &str, at: i64| NewMessage {
        chat_name: Some("机密群".into()),
        ..text(t, at)
    };
    let mut items = farm_chat(T0);
    items.extend([
        payload(
            message(
                "c1",
                "m5",
                NewMessage {
                    attachments: vec![Attachment {
                        name: Some("合同.pdf".into()),
                        mime: Some("application/pdf".into()),
                        size: Some(ATTACHMENT.len() as u64),
                        sha256: Some(sha.clone()),
                        ..Default::default()
                    }],
                    ..farm_text("附件：合同", T0 + 6000)
                },
            ),
            T0 + 6001,
        ),
        payload(
            message("c2", "s1", secret("农业机密：不该被看到", T0 + 7000)),
            T0 + 7001,
        ),
        payload(
            message(
                "c2",
                "s2",
                NewMessage {
                    attachments: vec![Attachment {
                        name: Some("机密.pdf".into()),
                        sha256: Some(sha),
                        ..Default::default()
                    }],
                    ..secret("机密附件", T0 + 8000)
                },
            ),
            T0 + 8001,
        ),
    ]);
    store.append(&[&batch(Platform::Yunhu, "team", items)]).unwrap();
    let more = changes();
    store.append(&more.iter().collect::<Vec<_>>()).unwrap();
    drop(store);
    index(dir);
}

/// The archive in `dir`, opened for writing.
pub fn open_store(dir: &Path) -> store::Store {
    store::Store::open(
        dir,
        store::StoreOptions {
            synchronous_full: false,
            cache_mib: 4,
        },
    )
    .unwrap()
}

/// Brings the search index in `dir` up to the archive there.
pub fn index(dir: &Path) {
    let reader = store::StoreReader::open(dir).unwrap();
    let (mut ix, _) = search::Indexer::open(dir, search::IndexerOptions::default()).unwrap();
    ix.catch_up(&reader, 200_000, &mut |_, _| {}).unwrap();
    ix.finish().unwrap();
}

/// For the audit page: a withdrawal in the out-of-scope chat c2, a wecom message deleted for
/// everyone two days later, one removed from a single user's view, a yunhu gap that closed and
/// a wecom gap still open.
fn changes() -> Vec<proto::EventBatch> {
    let day = 86_400_000;
    let yunhu = vec![
        payload(
            message(
                "c2",
                "s3",
                NewMessage {
                    chat_name: Some("机密群".into()),
                    ..text("机密撤回：供应商回扣名单", T0 + 8500)
                },
            ),
            T0 + 8501,
        ),
        payload(withdraw("c2", "s3", "boss", T0 + 8600), T0 + 8601),
        payload(
            connector_state(ConnectorStatus::Disconnected, "yunhu-outage", T0 + 9000),
            T0 + 9000,
        ),
        payload(
            connector_state(ConnectorStatus::Connected, "back", T0 + 9500),
            T0 + 9500,
        ),
    ];
    let wecom = vec![
        payload(message("w1", "x1", text("企业微信删除的内容", T0 + day)), T0 + day + 1),
        payload(delete("w1", "x1", "hr", T0 + 2 * day), T0 + 2 * day + 1),
        payload(
            message("w1", "x2", text("只对一人隐藏的内容", T0 + day + 10)),
            T0 + day + 11,
        ),
        payload(
            proto::ChatEvent::message(
                "w1",
                "x2",
                proto::EventBody::Delete {
                    by: Some("u9".into()),
                    at: Some(T0 + day + 20),
                    scope: proto::DeleteScope::User,
                },
            ),
            T0 + day + 21,
        ),
        payload(
            connector_state(ConnectorStatus::Disconnected, "wecom-outage", T0 + 3 * day),
            T0 + 3 * day,
        ),
    ];
    vec![
        batch(Platform::Yunhu, "team", yunhu),
        batch(Platform::Wecom, "corp", wecom),
    ]
}

/// `reviewer` (scope: chat c1 of yunhu), `admin` (everything), `gone` (disabled later),
/// `wecomer` (scope: platform wecom).
pub fn users(dir: &Path) {
    let db = AccessDb::open(dir).unwrap();
    let hash = ui::hash_password(PASSWORD).unwrap();
    let scope: Scope = "chat:yunhu/c1".parse().unwrap();
    db.add_user("reviewer", &hash, Role::Reviewer, &[scope], 0).unwrap();
    db.add_user("admin", &hash, Role::Admin, &[], 0).unwrap();
    db.add_user("gone", &hash, Role::Reviewer, &[], 0).unwrap();
    let wecom: Scope = "platform:wecom".parse().unwrap();
    db.add_user("wecomer", &hash, Role::Reviewer, &[wecom], 0).unwrap();
}

/// A running UI.
pub struct Ui {
    pub dir: tempfile::TempDir,
    pub addr: SocketAddr,
    stop: CancellationToken,
}

impl Drop for Ui {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Ui {
    pub async fn start() -> Ui {
        Self::start_with(Duration::from_secs(1800)).await
    }

    pub async fn start_with(idle: Duration) -> Ui {
        let dir = tempfile::tempdir().unwrap();
        archive(dir.path());
        users(dir.path());
        let opts = ui::UiOptions {
            data_dir: dir.path().to_path_buf(),
            secure_cookies: true,
            idle_timeout: idle,
            tz: chrono_tz::Asia::Shanghai,
        };
        let stop = CancellationToken::new();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(ui::serve(
            opts,
            "127.0.0.1:0".parse().unwrap(),
            false,
            stop.clone(),
            Some(tx),
        ));
        let addr = rx.await.unwrap();
        Ui { dir, addr, stop }
    }

    pub fn access(&self) -> AccessDb {
        AccessDb::open(self.dir.path()).unwrap()
    }

    pub fn client(&self) -> Client {
        Client {
            base: format!("http://{}", self.addr),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Vec::new(),
            lang: "zh-CN",
        }
    }
}

/// A browser stand-in.
pub struct Client {
    base: String,
    http: reqwest::Client,
    pub cookies: Vec<(String, String)>,
    pub lang: &'static str,
}

/// What came back.
pub struct Res {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: String,
    pub bytes: Vec<u8>,
}

impl Client {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, r: reqwest::Response) -> Res {
        let status = r.status().as_u16();
        let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
        let set_cookies: Vec<String> = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        for c in &set_cookies {
            let kv = c.split(';').next().unwrap();
            let (k, v) = kv.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            if !v.is_empty() {
                self.cookies.push((k.to_string(), v.to_string()));
            }
        }
        let bytes = r.bytes().await.unwrap().to_vec();
        Res {
            status,
            location,
            set_cookies,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        }
    }

    pub async fn get(&mut self, path: &str) -> Res {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("accept-language", self.lang)
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Res {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("accept-language", self.lang)
            .form(form)
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    /// The value of the hidden `csrf` field in `html`.
    pub fn csrf_in(html: &str) -> String {
        let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + "name=\"csrf\" value=\"".len();
        html[at..at + 64].to_string()
    }

    /// Logs in; returns the response to the POST.
    pub async fn login(&mut self, user: &str, password: &str) -> Res {
        let form = self.get("/login").await;
        let csrf = Self::csrf_in(&form.body);
        self.post("/login", &[("user", user), ("password", password), ("csrf", &csrf)])
            .await
    }

    /// The session's CSRF token, from the logout form on the search page.
    pub async fn session_csrf(&mut self) -> String {
        let page = self.get("/").await;
        Self::csrf_in(&page.body)
    }
}
