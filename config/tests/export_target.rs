//! `[export]` lake settings: `target` and `dir` are alternatives, targets and endpoints are
//! checked, credentials come from `${ENV}` and never print, file modes are octal.

use std::path::Path;

use chatvault_config::{Config, ConfigError, ExportFormat, parse_with_env};

fn env(var: &str) -> Option<String> {
    match var {
        "LAKE_KEY" => Some("AKIA-SECRET".into()),
        "LAKE_SECRET" => Some("lake-SECRET-key".into()),
        _ => None,
    }
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_with_env(text, Path::new("chatvault.toml"), &env)
}

fn error(text: &str) -> String {
    let e = parse(text).expect_err("config should be rejected").to_string();
    assert!(!e.contains("SECRET"), "a secret leaked into the error: {e}");
    e
}

#[test]
fn an_s3_target_with_its_settings_and_env_credentials() {
    let cfg = parse(
        "[export]\ntarget = \"s3://lake/chatvault\"\nformat = \"delta\"\nendpoint = \"http://127.0.0.1:8333\"\n\
         region = \"cn-north-1\"\npath_style = true\nallow_http = true\n\
         access_key_id = \"${LAKE_KEY}\"\nsecret_access_key = \"${LAKE_SECRET}\"\n",
    )
    .unwrap();
    let e = &cfg.export;
    assert_eq!(e.target.as_deref(), Some("s3://lake/chatvault"));
    assert_eq!(e.format, ExportFormat::Delta);
    assert!(e.path_style && e.allow_http);
    assert_eq!(e.secret_access_key.as_ref().unwrap().expose(), "lake-SECRET-key");
    assert!(!format!("{cfg:?}").contains("SECRET"));
    assert_eq!(parse("").unwrap().export.format, ExportFormat::Parquet);
}

#[test]
fn dir_and_target_together_are_refused() {
    let e = error("[export]\ndir = \"/srv/export\"\ntarget = \"s3://lake/cv\"\n");
    assert!(e.contains("export.target"), "{e}");
    assert!(e.contains("`dir`") && e.contains("/srv/export"), "{e}");
}

#[test]
fn a_target_must_be_an_s3_url_with_a_bucket() {
    let e = error("[export]\ntarget = \"/srv/lake\"\n");
    assert!(e.contains("s3://bucket/prefix") && e.contains("use `dir`"), "{e}");
    let e = error("[export]\ntarget = \"s3:///prefix\"\n");
    assert!(e.contains("names no bucket"), "{e}");
}

#[test]
fn credentials_in_the_target_url_are_refused_without_echoing_them() {
    // `error` also checks that nothing with SECRET in it reached the message.
    let e = error("[export]\ntarget = \"s3://AKIA:lake-SECRET-key@lake/cv\"\n");
    assert!(
        e.contains("export.target") && e.contains("credentials in the URL"),
        "{e}"
    );
    assert!(!e.contains("AKIA"), "{e}");
}

#[test]
fn a_plain_http_endpoint_needs_allow_http() {
    let e = error("[export]\ntarget = \"s3://lake\"\nendpoint = \"http://127.0.0.1:8333\"\n");
    assert!(e.contains("allow_http = true"), "{e}");
    let e = error("[export]\ntarget = \"s3://lake\"\nendpoint = \"127.0.0.1:8333\"\n");
    assert!(e.contains("export.endpoint") && e.contains("not a URL"), "{e}");
}

#[test]
fn file_mode_is_octal_with_a_private_default() {
    assert_eq!(parse("").unwrap().export.parsed_file_mode(), Some(0o640));
    assert_eq!(
        parse("[export]\nfile_mode = \"0600\"\n")
            .unwrap()
            .export
            .parsed_file_mode(),
        Some(0o600)
    );
    let e = error("[export]\nfile_mode = \"rw-r-----\"\n");
    assert!(e.contains("export.file_mode") && e.contains("octal"), "{e}");
    let e = error("[export]\nfile_mode = \"1777\"\n");
    assert!(e.contains("export.file_mode"), "{e}");
}
