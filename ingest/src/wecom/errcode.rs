//! WeCom API error codes and what they mean to an operator (seed 001, protocols.md §2.6).

/// Codes after which a fresh access token is fetched and the call retried once. WeCom may
/// report an expired token as 40014 instead of 42001, so both are treated alike.
pub const TOKEN_INVALID: [i64; 3] = [40014, 42001, 42009];
/// "System busy": retried a few times with backoff.
pub const SYSTEM_BUSY: i64 = -1;

/// What an error code means and what to do about it.
pub fn meaning(code: i64) -> &'static str {
    match code {
        -1 => "系统繁忙 (system busy; retry later)",
        0 => "ok",
        40001 => "secret 不合法 (invalid secret: check `secret` in the config)",
        40013 => "不合法的 CorpID (invalid corp id: check `corp_id`)",
        40014 => "access_token 无效 (invalid access token: fetch a new one)",
        41001 => "缺少 access_token (access token missing)",
        42001 => "access_token 已过期 (access token expired: fetch a new one)",
        42009 => "token 已过期 (token expired: fetch a new one)",
        45009 => "接口调用超过限制 (API call limit exceeded)",
        45033 => "接口并发调用超过限制 (too many concurrent calls)",
        60011 => "无权限 (the app may not read this member: check its visible range)",
        60020 => "不合法的 userid (invalid userid: check that the member exists)",
        60111 => "userid 不存在 (no such member)",
        81013 => "不合法的 external_userid (invalid external contact id)",
        301002 => "无权限操作指定的应用 (the secret has no right on this app)",
        _ => "unknown error code (see the WeCom global error code table)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_codes_of_the_seed() {
        for code in [40001, 40014, 41001, 60020, 81013, 301002] {
            assert!(!meaning(code).starts_with("unknown"), "{code}");
        }
        assert!(meaning(12345).starts_with("unknown"));
    }
}
