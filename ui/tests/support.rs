//! The reviewer UI's test archive (`testkit::ui`: both 农业 texts, an edit, a withdrawal, an
//! attachment and a second chat), indexed; users of each kind; the UI served on a free port; a
//! client that keeps cookies by hand (so tests can tamper with them).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use chatvault_ui as ui;
use store::access::{AccessDb, AccessEntry, AccessFilter, Role, Scope};
use testkit::ui::ATTACHMENT;
use tokio_util::sync::CancellationToken;

pub const PASSWORD: &str = "correct horse 电池";

/// Builds the archive (`testkit::ui`) and index in `dir`.
pub fn archive(dir: &Path) {
    let mut store = open_store(dir);
    testkit::ui::store_blob(dir, ATTACHMENT);
    let batches = testkit::ui::reviewed_archive();
    store.append(&batches.iter().collect::<Vec<_>>()).unwrap();
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

/// A data directory with the archive, its index and the users.
pub fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    archive(dir.path());
    users(dir.path());
    dir
}

/// How the tests run the UI on `dir`: secure cookies, times in Shanghai.
pub fn options(dir: &Path) -> ui::UiOptions {
    ui::UiOptions {
        data_dir: dir.to_path_buf(),
        secure_cookies: true,
        idle_timeout: Duration::from_secs(1800),
        tz: chrono_tz::Asia::Shanghai,
    }
}

impl Ui {
    pub async fn start() -> Ui {
        Self::start_with(Duration::from_secs(1800)).await
    }

    /// A running UI and a client logged in to it as `user`.
    pub async fn start_as(user: &str) -> (Ui, Client) {
        let ui = Self::start().await;
        let c = ui.signed_in(user).await;
        (ui, c)
    }

    pub async fn start_with(idle: Duration) -> Ui {
        let dir = data_dir();
        let opts = ui::UiOptions {
            idle_timeout: idle,
            ..options(dir.path())
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

    /// `user`'s access-log entries, oldest first.
    pub fn log(&self, user: &str) -> Vec<AccessEntry> {
        self.access()
            .entries(&AccessFilter {
                user: Some(user.into()),
                since: None,
            })
            .unwrap()
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

    /// A client logged in as `user` (every test user has [`PASSWORD`]).
    pub async fn signed_in(&self, user: &str) -> Client {
        let mut c = self.client();
        c.login(user, PASSWORD).await;
        c
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
            self.set_cookie(k, v);
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

    /// `GET path`, which must answer `status` (a failure names the path and shows the page).
    pub async fn get_expecting(&mut self, path: &str, status: u16) -> Res {
        let r = self.get(path).await;
        assert_eq!(r.status, status, "{path}: {}", r.body);
        r
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

    /// `POST path` with `form`, which must answer `status` (a failure names the path and shows
    /// the page).
    pub async fn post_expecting(&mut self, path: &str, form: &[(&str, &str)], status: u16) -> Res {
        let r = self.post(path, form).await;
        assert_eq!(r.status, status, "{path}: {}", r.body);
        r
    }

    /// Keeps `name=value` as a browser keeps a `Set-Cookie`: replacing any earlier value, and
    /// an empty value removes the cookie.
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.retain(|(n, _)| n != name);
        if !value.is_empty() {
            self.cookies.push((name.to_string(), value.to_string()));
        }
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
