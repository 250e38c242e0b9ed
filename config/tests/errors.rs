//! Every config error a user can hit, with the message they read: file, line, field and what is
//! valid, and never a secret's value.

use std::path::Path;

use chatvault_config::{Config, ConfigError, parse_with_env};

const PATH: &str = "conf/chatvault.toml";

fn env(var: &str) -> Option<String> {
    match var {
        "EOFFICE_TOKEN" => Some("eo-SECRET-token".into()),
        "EOFFICE_AES_KEY" => Some("0123456789abcdef".into()),
        "EOFFICE_AES_IV" => Some("fedcba9876543210".into()),
        "WECOM_TOKEN" => Some("wc-SECRET-token".into()),
        "WECOM_AES_KEY" => Some("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C".into()),
        "WECOM_SECRET" => Some("wc-SECRET-app".into()),
        "GOOFISH_TOKEN" => Some("gf-SECRET-token".into()),
        "GOOFISH_COOKIES" => Some("cna=SECRET; unb=1".into()),
        "WORKTOOL_KEY" => Some("wt-SECRET-key".into()),
        "YUNHU_TOKEN" => Some("yh-SECRET-token".into()),
        "SHORT_KEY" => Some("short-SECRET".into()),
        _ => None,
    }
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_with_env(text, Path::new(PATH), &env)
}

/// The message of the error `text` produces; also checks that no secret leaked into it.
fn error(text: &str) -> String {
    let e = parse(text).expect_err("config should be rejected").to_string();
    assert!(!e.contains("SECRET"), "a secret leaked into the error: {e}");
    e
}

fn example() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/chatvault.toml");
    std::fs::read_to_string(p).unwrap()
}

const EOFFICE: &str = "[[eoffice]]\nname = \"oa\"\nurl = \"http://oa.example.com:3000\"\ntoken = \"${EOFFICE_TOKEN}\"\nuser_id = \"admin\"\n";

#[test]
fn the_example_is_valid_and_expanded() {
    let cfg = parse(&example()).unwrap();
    assert_eq!(cfg.tz, chrono_tz::Asia::Shanghai);
    assert_eq!(cfg.connector_count(), 5);
    assert_eq!(cfg.eoffice[0].token.expose(), "eo-SECRET-token");
    assert_eq!(cfg.wecom[0].encoding_aes_key.expose().len(), 43);
    assert_eq!(cfg.goofish[0].cookies.as_ref().unwrap().expose(), "cna=SECRET; unb=1");
    assert_eq!(cfg.export.schedule.as_deref(), Some("0 * * * *"));
    // Debug output of the whole config prints no secret.
    assert!(!format!("{cfg:?}").contains("SECRET"));
}

#[test]
fn an_empty_file_is_the_defaults() {
    let cfg = parse("").unwrap();
    assert_eq!(cfg.tz, chrono_tz::UTC);
    assert_eq!(cfg.connector_count(), 0);
}

#[test]
fn env_references_in_comments_are_ignored() {
    let cfg = parse("# token = \"${NOT_SET}\"\ntimezone = \"UTC\" # ${NOT_SET}\n").unwrap();
    assert_eq!(cfg.tz, chrono_tz::UTC);
}

/// Configs with one problem each (named by the case), and the whole message the user reads.
fn exact_cases() -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "a missing env var names the variable, file and line",
            "timezone = \"UTC\"\n[[yunhu]]\nname = \"t\"\nuser_id = \"1\"\ntoken = \"${YUNHU_TOKN}\"\ndevice_id = \"d\"\n".into(),
            "conf/chatvault.toml:5: environment variable `YUNHU_TOKN` is not set (referenced as `${YUNHU_TOKN}`)",
        ),
        (
            "an unknown time zone suggests IANA names",
            "\ntimezone = \"Beijing\"\n".into(),
            "conf/chatvault.toml:2: `timezone`: unknown time zone `Beijing`; use an IANA name such as Asia/Shanghai or UTC",
        ),
        (
            "the listen address says what it expects",
            "[server]\nlisten = \"localhost\"\n".into(),
            "conf/chatvault.toml:2: `server.listen`: invalid socket address syntax; expected IP:port such as 127.0.0.1:8088 or [::1]:8088",
        ),
        (
            "duplicate connector names across kinds",
            format!("{EOFFICE}\n[[yunhu]]\nname = \"oa\"\nuser_id = \"1\"\ntoken = \"${{YUNHU_TOKEN}}\"\ndevice_id = \"d\"\n"),
            "conf/chatvault.toml:8: `yunhu[0].name`: `oa` is already the name of eoffice[0]; connector names must be unique across all kinds",
        ),
        (
            "duplicate callback paths",
            "[[wecom]]\nname = \"a\"\ncorp_id = \"ww1\"\ntoken = \"${WECOM_TOKEN}\"\nencoding_aes_key = \"${WECOM_AES_KEY}\"\npath = \"/cb\"\n\n[[worktool]]\nname = \"b\"\npath = \"/cb\"\nkey = \"${WORKTOOL_KEY}\"\n".into(),
            "conf/chatvault.toml:10: `worktool[0].path`: `/cb` is already the callback path of wecom[0]; each callback needs its own path",
        ),
        (
            "an eoffice AES key of a wrong length",
            format!("{EOFFICE}aes_key = \"${{SHORT_KEY}}\"\naes_iv = \"${{EOFFICE_AES_IV}}\"\n"),
            "conf/chatvault.toml:6: `eoffice[0].aes_key`: is 12 bytes long; must be 16, 24 or 32 bytes",
        ),
        (
            "an eoffice AES key and IV both of wrong lengths",
            format!("{EOFFICE}aes_key = \"${{EOFFICE_AES_KEY}}x\"\naes_iv = \"${{EOFFICE_AES_KEY}}!\"\n"),
            "conf/chatvault.toml:6: `eoffice[0].aes_key`: is 17 bytes long; must be 16, 24 or 32 bytes\n\
             conf/chatvault.toml:7: `eoffice[0].aes_iv`: is 17 bytes long; must be 16 bytes",
        ),
        (
            "an eoffice AES key needs an IV",
            format!("{EOFFICE}aes_key = \"${{EOFFICE_AES_KEY}}\"\n"),
            "conf/chatvault.toml:6: `eoffice[0].aes_key`: is set but `aes_iv` is not; set both or neither",
        ),
        (
            "a wecom AES key is 43 characters",
            "[[wecom]]\nname = \"a\"\ncorp_id = \"ww1\"\ntoken = \"${WECOM_TOKEN}\"\nencoding_aes_key = \"${WECOM_SECRET}\"\npath = \"/cb\"\n".into(),
            "conf/chatvault.toml:5: `wecom[0].encoding_aes_key`: is 13 characters long; WeCom's EncodingAESKey is exactly 43",
        ),
        (
            "a URL needs its scheme",
            EOFFICE.replace("http://oa.example.com:3000", "oa.example.com:3000"),
            "conf/chatvault.toml:3: `eoffice[0].url`: `oa.example.com:3000` is not a URL: it needs a scheme, e.g. `http://oa.example.com:3000`",
        ),
        (
            "a URL needs a host",
            EOFFICE.replace("http://oa.example.com:3000", "http://"),
            "conf/chatvault.toml:3: `eoffice[0].url`: `http://` is not a URL (empty host); expected e.g. http://host",
        ),
        (
            "a URL's scheme must fit its use",
            "[[yunhu]]\nname = \"t\"\nws_url = \"https://chat.example.com/ws\"\nuser_id = \"1\"\ntoken = \"${YUNHU_TOKEN}\"\ndevice_id = \"d\"\n".into(),
            "conf/chatvault.toml:3: `yunhu[0].ws_url`: scheme `https` is not allowed here; use wss or ws",
        ),
        (
            "a callback path must be absolute",
            "[[worktool]]\nname = \"b\"\npath = \"cb\"\nkey = \"${WORKTOOL_KEY}\"\n".into(),
            "conf/chatvault.toml:3: `worktool[0].path`: `cb` must start with `/`",
        ),
        (
            "goofish needs a token or cookies",
            "[[goofish]]\nname = \"shop\"\ndevice_id = \"d\"\n".into(),
            "conf/chatvault.toml:1: `goofish[0].token`: set `token` (accessToken) or `cookies` (goofish.com login cookies); both are missing or empty",
        ),
    ]
}

#[test]
fn each_problem_reads_exactly_as_expected() {
    for (case, text, want) in exact_cases() {
        assert_eq!(error(&text), want, "{case}");
    }
}

/// Configs with one problem each (named by the case), how the message begins (where the
/// problem is and what it is), and what else it must mention.
fn prefix_cases() -> Vec<(&'static str, String, &'static str, &'static [&'static str])> {
    vec![
        (
            "a broken env reference",
            "timezone = \"${UTC\"\n".into(),
            "conf/chatvault.toml:1: `${` must be followed by a variable name",
            &[],
        ),
        (
            "a TOML syntax error has a line",
            "timezone = \"UTC\"\n[storage\ndata_dir = \"x\"\n".into(),
            "conf/chatvault.toml:2: ",
            &[],
        ),
        (
            "an unknown field lists the valid ones",
            format!("{EOFFICE}usr_id = \"x\"\n"),
            "conf/chatvault.toml:6: `eoffice[0].usr_id`: unknown field `usr_id`, expected one of",
            &["`user_id`", "`connect_type`"],
        ),
        (
            "a bad enum value lists the choices",
            format!("{EOFFICE}connect_type = \"desktop\"\n"),
            "conf/chatvault.toml:6: `eoffice[0].connect_type`: unknown variant `desktop`",
            &["`web`", "`mobile`", "`client`"],
        ),
        (
            "a missing required field is named",
            "[[wecom]]\nname = \"corp\"\n".into(),
            "conf/chatvault.toml:1: `wecom[0]`: missing field `corp_id`",
            &[],
        ),
        (
            "an empty secret is reported",
            "[[yunhu]]\nname = \"t\"\nuser_id = \"1\"\ntoken = \"\"\ndevice_id = \"d\"\n".into(),
            "conf/chatvault.toml:4: `yunhu[0].token`: must not be empty",
            &[],
        ),
        (
            "a callback path chatvault serves itself is reserved",
            "[[worktool]]\nname = \"b\"\npath = \"/healthz\"\nkey = \"${WORKTOOL_KEY}\"\n".into(),
            "conf/chatvault.toml:3: `worktool[0].path`: `/healthz` is served by chatvault itself",
            &[],
        ),
    ]
}

#[test]
fn each_problem_begins_with_its_place() {
    for (case, text, want, mentions) in prefix_cases() {
        let e = error(&text);
        assert!(e.starts_with(want), "{case}: {e}");
        for m in mentions {
            assert!(e.contains(m), "{case}: {m} missing from {e}");
        }
    }
}

#[test]
fn a_secret_of_the_wrong_type_is_not_echoed() {
    let e = error("[[worktool]]\nname = \"r\"\npath = \"/wt\"\nkey = 987654321\n");
    assert!(
        e.starts_with("conf/chatvault.toml:4: `worktool[0].key`: invalid type: a number, expected a quoted string"),
        "{e}"
    );
    assert!(!e.contains("987654321"), "{e}");
}

/// Goofish needs a token or cookies (a case of [`exact_cases`]); either one is enough.
#[test]
fn goofish_cookies_alone_are_enough() {
    parse("[[goofish]]\nname = \"shop\"\ndevice_id = \"d\"\ncookies = \"${GOOFISH_COOKIES}\"\n").unwrap();
}

#[test]
fn every_problem_is_listed() {
    let e = error("timezone = \"Mars/Olympus\"\n[storage]\nchannel_capacity = 0\n");
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 2, "{e}");
    assert!(lines[0].starts_with("conf/chatvault.toml:1: `timezone`"), "{e}");
    assert_eq!(
        lines[1],
        "conf/chatvault.toml:3: `storage.channel_capacity`: must be at least 1"
    );
}

#[test]
fn a_secret_with_quotes_survives_expansion() {
    let cfg = parse_with_env(
        "[[worktool]]\nname = \"r\"\npath = \"/wt\"\nkey = \"${K}\"\n",
        Path::new(PATH),
        &|_| Some("a\"b\\c".into()),
    )
    .unwrap();
    assert_eq!(cfg.worktool[0].key.expose(), "a\"b\\c");
}

#[test]
fn unreadable_file_names_it() {
    let e = chatvault_config::load(Path::new("/nonexistent/chatvault.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("cannot read config file `/nonexistent/chatvault.toml`"),
        "{e}"
    );
}
