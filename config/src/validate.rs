//! Checks on the parsed config that serde cannot express: names and callback paths unique,
//! URLs well-formed, key lengths right, required secrets present. Every issue names its field
//! and what would be valid, never a secret's value.

use std::collections::HashMap;

use crate::locate::FieldPath;
use crate::{Config, Secret};

/// One problem, placed at a field.
#[derive(Debug)]
pub(crate) struct Issue {
    pub section: Option<&'static str>,
    pub index: Option<usize>,
    pub key: &'static str,
    pub message: String,
}

impl Issue {
    pub fn path(&self) -> FieldPath<'_> {
        FieldPath {
            section: self.section,
            index: self.index,
            key: self.key,
        }
    }
}

/// Routes the shared server answers itself; a callback may not take them.
const RESERVED_PATHS: [&str; 2] = ["/healthz", "/metrics"];

struct Checker {
    issues: Vec<Issue>,
    section: Option<&'static str>,
    index: Option<usize>,
}

impl Checker {
    fn at(&mut self, section: &'static str, index: usize) {
        self.section = Some(section);
        self.index = Some(index);
    }

    fn fail(&mut self, key: &'static str, message: impl Into<String>) {
        self.issues.push(Issue {
            section: self.section,
            index: self.index,
            key,
            message: message.into(),
        });
    }

    fn required(&mut self, key: &'static str, value: &str) {
        if value.trim().is_empty() {
            self.fail(key, "must not be empty");
        }
    }

    fn secret(&mut self, key: &'static str, value: &Secret) {
        if value.expose().trim().is_empty() {
            self.fail(key, "must not be empty (an unset secret? write it as \"${ENV_VAR}\")");
        }
    }

    fn url(&mut self, key: &'static str, value: &str, schemes: &[&str]) {
        if !value.contains("://") {
            let example = format!("{}://{}", schemes[0], value.trim_start_matches('/'));
            self.fail(
                key,
                format!("`{value}` is not a URL: it needs a scheme, e.g. `{example}`"),
            );
            return;
        }
        match url::Url::parse(value) {
            Err(e) => self.fail(
                key,
                format!("`{value}` is not a URL ({e}); expected e.g. {}://host", schemes[0]),
            ),
            Ok(u) if !schemes.contains(&u.scheme()) => self.fail(
                key,
                format!(
                    "scheme `{}` is not allowed here; use {}",
                    u.scheme(),
                    schemes.join(" or ")
                ),
            ),
            Ok(u) if u.host_str().is_none_or(str::is_empty) => self.fail(key, format!("`{value}` has no host")),
            Ok(_) => {}
        }
    }

    fn route(&mut self, key: &'static str, value: &str) {
        if !value.starts_with('/') {
            self.fail(key, format!("`{value}` must start with `/`"));
        }
    }

    /// Latin-1 key material: each character is one byte, so the byte length is the char count.
    fn latin1_len(&mut self, key: &'static str, value: &Secret, valid: &[usize]) {
        let v = value.expose();
        if v.chars().any(|c| c as u32 > 0xFF) {
            self.fail(key, "must be Latin-1 text (one byte per character)");
            return;
        }
        let n = v.chars().count();
        if !valid.contains(&n) {
            self.fail(key, format!("is {n} bytes long; must be {} bytes", one_of(valid)));
        }
    }
}

/// `16`, `16 or 24`, `16, 24 or 32`.
fn one_of(valid: &[usize]) -> String {
    match valid {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(usize::to_string).collect();
            format!("{} or {last}", init.join(", "))
        }
    }
}

/// Every issue of `cfg`, in file order per section.
pub(crate) fn check(cfg: &Config) -> Vec<Issue> {
    let mut c = Checker {
        issues: Vec::new(),
        section: None,
        index: None,
    };
    if cfg.storage.channel_capacity == 0 {
        c.section = Some("storage");
        c.fail("channel_capacity", "must be at least 1");
    }
    if cfg.server.max_body_bytes == 0 {
        c.section = Some("server");
        c.fail("max_body_bytes", "must be at least 1");
    }
    let srv = &cfg.server;
    for (key, value) in [
        ("header_timeout_ms", srv.header_timeout_ms),
        ("body_timeout_ms", srv.body_timeout_ms),
        ("shutdown_grace_ms", srv.shutdown_grace_ms),
        ("max_connections", srv.max_connections as u64),
    ] {
        if value == 0 {
            c.section = Some("server");
            c.fail(key, "must be at least 1");
        }
    }
    if srv.refused_burst > 0 && srv.refused_per_minute == 0 {
        c.section = Some("server");
        c.fail(
            "refused_per_minute",
            "must be at least 1 while refused_burst is on (a throttled peer would never be served again)",
        );
    }
    if let Some(hook) = &cfg.alerts.webhook {
        c.section = Some("alerts");
        // The URL may carry a robot key: the message never repeats it.
        let ok = url::Url::parse(hook.expose()).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !ok {
            c.fail("webhook", "is not an http(s) URL");
        }
    }
    if cfg.ui.listen.is_some_and(|l| l == cfg.server.listen) {
        c.section = Some("ui");
        c.fail(
            "listen",
            "must differ from [server] listen (the UI never shares the callback port)",
        );
    }
    if cfg.ui.idle_timeout_secs == 0 {
        c.section = Some("ui");
        c.fail("idle_timeout_secs", "must be at least 1");
    }
    names_unique(cfg, &mut c);
    paths_unique(cfg, &mut c);

    for (i, e) in cfg.eoffice.iter().enumerate() {
        c.at("eoffice", i);
        c.url("url", &e.url, &["http", "https"]);
        c.route("path", &e.path);
        c.secret("token", &e.token);
        c.required("user_id", &e.user_id);
        match (&e.aes_key, &e.aes_iv) {
            (Some(k), Some(iv)) => {
                c.latin1_len("aes_key", k, &[16, 24, 32]);
                c.latin1_len("aes_iv", iv, &[16]);
            }
            (Some(_), None) => c.fail("aes_key", "is set but `aes_iv` is not; set both or neither"),
            (None, Some(_)) => c.fail("aes_iv", "is set but `aes_key` is not; set both or neither"),
            (None, None) => {}
        }
    }
    for (i, w) in cfg.wecom.iter().enumerate() {
        c.at("wecom", i);
        c.required("corp_id", &w.corp_id);
        c.secret("token", &w.token);
        let key = w.encoding_aes_key.expose();
        let n = key.chars().count();
        if n != 43 {
            c.fail(
                "encoding_aes_key",
                format!("is {n} characters long; WeCom's EncodingAESKey is exactly 43"),
            );
        } else if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/') {
            c.fail("encoding_aes_key", "must be base64 text (A-Z, a-z, 0-9, + and /)");
        }
        c.route("path", &w.path);
        c.url("api_base", &w.api_base, &["https", "http"]);
    }
    for (i, g) in cfg.goofish.iter().enumerate() {
        c.at("goofish", i);
        c.url("ws_url", &g.ws_url, &["wss", "ws"]);
        c.url("api_base", &g.api_base, &["https", "http"]);
        c.required("device_id", &g.device_id);
        let has = |s: &Option<Secret>| s.as_ref().is_some_and(|s| !s.expose().trim().is_empty());
        if !has(&g.token) && !has(&g.cookies) {
            c.fail(
                "token",
                "set `token` (accessToken) or `cookies` (goofish.com login cookies); both are missing or empty",
            );
        }
    }
    for (i, w) in cfg.worktool.iter().enumerate() {
        c.at("worktool", i);
        c.route("path", &w.path);
        c.secret("key", &w.key);
        c.url("api_base", &w.api_base, &["https", "http"]);
        if w.spool_max_bytes == 0 {
            c.fail("spool_max_bytes", "must be at least 1");
        }
    }
    for (i, y) in cfg.yunhu.iter().enumerate() {
        c.at("yunhu", i);
        c.url("ws_url", &y.ws_url, &["wss", "ws"]);
        c.url("api_base", &y.api_base, &["https", "http"]);
        c.required("user_id", &y.user_id);
        c.secret("token", &y.token);
        c.required("platform", &y.platform);
        c.required("device_id", &y.device_id);
    }
    export_checks(cfg, &mut c);
    for (i, a) in cfg.wecom_archive.iter().enumerate() {
        c.at("wecom_archive", i);
        c.required("corp_id", &a.corp_id);
        c.secret("secret", &a.secret);
        c.required("sdk_path", &a.sdk_path.to_string_lossy());
        c.url("api_base", &a.api_base, &["https", "http"]);
        if !(1..=1000).contains(&a.batch_limit) {
            c.fail(
                "batch_limit",
                format!("is {}; GetChatData takes 1 to 1000", a.batch_limit),
            );
        }
        if a.poll_interval < std::time::Duration::from_millis(100) {
            c.fail("poll_interval", "must be at least 100ms");
        }
        if a.timeout < std::time::Duration::from_secs(1) {
            c.fail("timeout", "must be at least 1s (the SDK takes whole seconds)");
        }
        for (key, secret) in [("contact_secret", &a.contact_secret), ("user_secret", &a.user_secret)] {
            if let Some(s) = secret {
                c.secret(key, s);
            }
        }
        if a.name_refresh < std::time::Duration::from_secs(1) {
            c.fail("name_refresh", "must be at least 1s");
        }
        if a.private_keys.is_empty() {
            c.fail(
                "private_keys",
                "add a [[wecom_archive.private_keys]] entry (version + pem) for each publickey_ver",
            );
        }
        let mut versions = HashMap::new();
        for (k, key) in a.private_keys.iter().enumerate() {
            if key.pem.expose().trim().is_empty() {
                c.fail("private_keys", format!("private_keys[{k}].pem must not be empty"));
            }
            if let Some(first) = versions.insert(key.version, k) {
                c.fail(
                    "private_keys",
                    format!(
                        "private_keys[{k}].version {} is already private_keys[{first}]'s; each publickey_ver needs exactly one key",
                        key.version
                    ),
                );
            }
        }
    }
    c.issues
}

/// `[export]`: one destination, a well-formed target and endpoint, an octal file mode.
fn export_checks(cfg: &Config, c: &mut Checker) {
    let e = &cfg.export;
    c.section = Some("export");
    c.index = None;
    if let (Some(dir), Some(target)) = (&e.dir, &e.target) {
        c.fail(
            "target",
            format!(
                "is set and so is `dir` (`{}`); set one: `dir` for a local folder or `target` for `{target}`",
                dir.display()
            ),
        );
    }
    if let Some(t) = &e.target {
        match t.strip_prefix("s3://") {
            // Not echoed: the part before `@` is a secret.
            Some(rest) if rest.split('/').next().unwrap_or("").contains('@') => c.fail(
                "target",
                "carries credentials in the URL (`s3://…@bucket`); set `access_key_id` / `secret_access_key` instead",
            ),
            Some(rest) if !rest.split('/').next().unwrap_or("").is_empty() => {}
            Some(_) => c.fail(
                "target",
                format!("`{t}` names no bucket; write it as s3://bucket/prefix"),
            ),
            None => c.fail(
                "target",
                format!("`{t}` is not an object-store URL; write s3://bucket/prefix (for a local folder use `dir`)"),
            ),
        }
    }
    if let Some(endpoint) = &e.endpoint {
        c.url("endpoint", endpoint, &["https", "http"]);
        if endpoint.starts_with("http://") && !e.allow_http {
            c.fail(
                "endpoint",
                format!("`{endpoint}` is plain HTTP; set `allow_http = true` to allow it"),
            );
        }
    }
    if e.parsed_file_mode().is_none() {
        c.fail(
            "file_mode",
            format!(
                "`{}` is not a file mode; write it in octal, e.g. \"0640\" or \"0600\"",
                e.file_mode.as_deref().unwrap_or("")
            ),
        );
    }
}

/// Connector names are the account part of every message identity, so they must be unique
/// across all kinds.
fn names_unique(cfg: &Config, c: &mut Checker) {
    let all = kinds(cfg, |k| match k {
        Kind::Eoffice(x) => Some(x.name.as_str()),
        Kind::Wecom(x) => Some(x.name.as_str()),
        Kind::Goofish(x) => Some(x.name.as_str()),
        Kind::Worktool(x) => Some(x.name.as_str()),
        Kind::Yunhu(x) => Some(x.name.as_str()),
        Kind::WecomArchive(x) => Some(x.name.as_str()),
    });
    each_unique(
        c,
        all,
        "name",
        |name| name.trim().is_empty().then(|| "must not be empty".to_string()),
        |name, s0, i0| {
            format!("`{name}` is already the name of {s0}[{i0}]; connector names must be unique across all kinds")
        },
    );
}

fn paths_unique(cfg: &Config, c: &mut Checker) {
    let all = kinds(cfg, |k| match k {
        Kind::Wecom(x) => Some(x.path.as_str()),
        Kind::Worktool(x) => Some(x.path.as_str()),
        _ => None,
    });
    each_unique(
        c,
        all,
        "path",
        |path| {
            RESERVED_PATHS.contains(&path).then(|| {
                format!(
                    "`{path}` is served by chatvault itself ({}); choose another",
                    RESERVED_PATHS.join(", ")
                )
            })
        },
        |path, s0, i0| format!("`{path}` is already the callback path of {s0}[{i0}]; each callback needs its own path"),
    );
}

/// Fails `key` of each connector in `all` whose value is `invalid` (the message it returns),
/// or already held by an earlier one (`taken`: the value and where it first is).
fn each_unique(
    c: &mut Checker,
    all: Vec<(&'static str, usize, &str)>,
    key: &'static str,
    invalid: impl Fn(&str) -> Option<String>,
    taken: impl Fn(&str, &str, usize) -> String,
) {
    let mut seen: HashMap<&str, (&'static str, usize)> = HashMap::new();
    for (section, index, value) in all {
        c.at(section, index);
        if let Some(why) = invalid(value) {
            c.fail(key, why);
        } else if let Some((s0, i0)) = seen.get(value) {
            c.fail(key, taken(value, s0, *i0));
        } else {
            seen.insert(value, (section, index));
        }
    }
}

enum Kind<'a> {
    Eoffice(&'a crate::EofficeConfig),
    Wecom(&'a crate::WecomConfig),
    Goofish(&'a crate::GoofishConfig),
    Worktool(&'a crate::WorktoolConfig),
    Yunhu(&'a crate::YunhuConfig),
    WecomArchive(&'a crate::wecom_archive::WecomArchiveConfig),
}

/// `(section, index, value)` for every connector `pick` returns a value for, in file order per
/// kind.
fn kinds<'a>(cfg: &'a Config, pick: impl Fn(Kind<'a>) -> Option<&'a str>) -> Vec<(&'static str, usize, &'a str)> {
    fn each<'a, T>(
        section: &'static str,
        list: &'a [T],
        kind: fn(&'a T) -> Kind<'a>,
    ) -> impl Iterator<Item = (&'static str, usize, Kind<'a>)> {
        list.iter().enumerate().map(move |(i, x)| (section, i, kind(x)))
    }
    each("eoffice", &cfg.eoffice, Kind::Eoffice)
        .chain(each("wecom", &cfg.wecom, Kind::Wecom))
        .chain(each("goofish", &cfg.goofish, Kind::Goofish))
        .chain(each("worktool", &cfg.worktool, Kind::Worktool))
        .chain(each("yunhu", &cfg.yunhu, Kind::Yunhu))
        .chain(each("wecom_archive", &cfg.wecom_archive, Kind::WecomArchive))
        .filter_map(|(section, i, k)| pick(k).map(|v| (section, i, v)))
        .collect()
}
