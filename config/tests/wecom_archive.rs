//! `[[wecom_archive]]`: defaults, durations, and the errors that name their field.

use std::path::Path;
use std::time::Duration;

use chatvault_config::{Config, ConfigError, parse_with_env};

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_with_env(text, Path::new("chatvault.toml"), &|v| {
        (v == "WECOM_ARCHIVE_SECRET").then(|| "wa-SECRET".to_string())
    })
}

fn section(extra: &str, keys: &str) -> String {
    format!(
        "[[wecom_archive]]\nname = \"audit\"\ncorp_id = \"ww1\"\nsecret = \"${{WECOM_ARCHIVE_SECRET}}\"\n\
         sdk_path = \"/opt/wecom/libWeWorkFinanceSdk_C.so\"\n{extra}\n{keys}"
    )
}

const KEY1: &str = "[[wecom_archive.private_keys]]\nversion = 1\npem = \"/etc/chatvault/v1.pem\"\n";

#[test]
fn defaults_and_durations() {
    let cfg = parse(&section("", KEY1)).unwrap();
    let a = &cfg.wecom_archive[0];
    assert_eq!(a.poll_interval, Duration::from_secs(30));
    assert_eq!(
        (a.batch_limit, a.timeout, a.media),
        (1000, Duration::from_secs(10), true)
    );
    assert_eq!(a.secret.expose(), "wa-SECRET");
    assert!(!a.private_keys[0].is_inline());
    assert_eq!(cfg.connector_count(), 1);
    assert_eq!(cfg.connectors()[0].platform(), proto::Platform::WecomArchive);
    let cfg = parse(&section("poll_interval = \"500ms\"\ntimeout = 5", KEY1)).unwrap();
    assert_eq!(cfg.wecom_archive[0].poll_interval, Duration::from_millis(500));
    assert_eq!(cfg.wecom_archive[0].timeout, Duration::from_secs(5));
    assert!(!format!("{cfg:?}").contains("SECRET"));
}

#[test]
fn errors_name_the_field() {
    let e = parse(&section("batch_limit = 5000", KEY1)).unwrap_err().to_string();
    assert!(e.contains("batch_limit") && e.contains("1 to 1000"), "{e}");
    let dup = format!("{KEY1}[[wecom_archive.private_keys]]\nversion = 1\npem = \"/etc/other.pem\"\n");
    let e = parse(&section("", &dup)).unwrap_err().to_string();
    assert!(
        e.contains("private_keys[1].version 1 is already private_keys[0]'s"),
        "{e}"
    );
    let e = parse(&section("", "")).unwrap_err().to_string();
    assert!(e.contains("private_keys") && e.contains("version + pem"), "{e}");
    let e = parse(&section("poll_interval = \"soon\"", KEY1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a duration"), "{e}");
    assert!(!e.contains("SECRET"));
}
