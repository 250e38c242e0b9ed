//! The page frame (header, navigation, logout form), the style sheet, and small helpers.
//! The style is inline (one response per page, no static route); the layout wraps and breaks
//! long words so nothing overflows a phone's width.

use maud::{DOCTYPE, Markup, PreEscaped, html};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use store::access::{Role, Session};

use crate::i18n::Lang;

const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font-family:"Noto Sans CJK SC","Noto Sans SC","PingFang SC","Microsoft YaHei",system-ui,sans-serif;color:#1f2328;background:#f6f7f9;line-height:1.55}
header{background:#24364f;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center}
header a{color:#fff;text-decoration:none}
header .brand{font-weight:700;margin-right:auto}
header form{margin:0}
header button{background:transparent;color:#fff;border:1px solid #fff6;border-radius:4px;padding:.2rem .6rem;cursor:pointer}
main{max-width:1100px;margin:0 auto;padding:1rem}
h1{font-size:1.3rem;margin:.2rem 0 1rem}
h2{font-size:1.1rem}
form.search{display:flex;flex-wrap:wrap;gap:.5rem;margin-bottom:1rem}
form.search input,form.search select{padding:.4rem;border:1px solid #c5ccd6;border-radius:4px;min-width:0;font:inherit}
form.search input[name=q]{flex:1 1 16rem}
form.search .filters{display:flex;flex-wrap:wrap;gap:.5rem;width:100%}
form.search .filters>*{flex:1 1 9rem}
button.primary{background:#2f6fdf;color:#fff;border:0;border-radius:4px;padding:.45rem 1.1rem;font:inherit;cursor:pointer}
.hit,.msg{background:#fff;border:1px solid #e1e5ea;border-radius:6px;padding:.6rem .8rem;margin-bottom:.6rem;overflow-wrap:anywhere;word-break:break-word}
.meta{color:#57606a;font-size:.85rem;display:flex;flex-wrap:wrap;gap:.2rem .8rem}
mark{background:#ffe08a;color:inherit;padding:0 .1rem;border-radius:2px}
.badge{display:inline-block;font-size:.75rem;border-radius:3px;padding:0 .35rem;background:#eef1f5;color:#24364f}
.badge.withdrawn{background:#fde2e1;color:#a1260d}.badge.deleted{background:#ffd8d8;color:#86181d}.badge.edited{background:#e6effd;color:#1b4fa0}
.msg.focus{border-color:#2f6fdf;box-shadow:0 0 0 2px #2f6fdf33}
.text{white-space:pre-wrap;margin:.3rem 0}
.revisions{margin:.3rem 0 0;padding-left:1.2rem;font-size:.9rem}
.revisions li{white-space:pre-wrap}
.notice{background:#fff8c5;border:1px solid #e9d176;border-radius:6px;padding:.6rem .8rem}
.error{background:#fff;border:1px solid #e1e5ea;border-radius:6px;padding:1rem}
pre{background:#0d1117;color:#e6edf3;padding:.6rem;border-radius:6px;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere;font-size:.8rem}
table{border-collapse:collapse;width:100%;font-size:.85rem;display:block;overflow-x:auto}
td,th{border-bottom:1px solid #e1e5ea;padding:.3rem .4rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
.pager{display:flex;gap:1rem;margin:1rem 0}
.login{max-width:22rem;margin:3rem auto;background:#fff;border:1px solid #e1e5ea;border-radius:8px;padding:1.2rem}
.login label{display:block;margin:.6rem 0 .2rem}
.login input{width:100%;padding:.45rem;border:1px solid #c5ccd6;border-radius:4px;font:inherit}
.ok{color:#116329}.bad{color:#a1260d;font-weight:700}
code{overflow-wrap:anywhere;word-break:break-all}
section.day h2{margin:1.2rem 0 .5rem;padding-bottom:.2rem;border-bottom:1px solid #c5ccd6;color:#24364f}
dl.status{background:#fff;border:1px solid #e1e5ea;border-radius:6px;padding:.6rem .8rem;margin:0}
dl.status dt{font-weight:700;margin-top:.3rem}dl.status dd{margin:0 0 .3rem;overflow-wrap:anywhere}
td,th{overflow-wrap:break-word}
.badge{white-space:nowrap}
form.bundle{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:.4rem 0 1rem}
form.bundle button{background:#fff;border:1px solid #2f6fdf;color:#2f6fdf;border-radius:4px;padding:.35rem .9rem;font:inherit;cursor:pointer}
form.bundle button:disabled{border-color:#c5ccd6;color:#8c959f;cursor:not-allowed}
label.pick{margin-left:auto;white-space:nowrap}
"#;

/// A whole page: `title`, the signed-in user's navigation (if any), `body`.
pub(crate) fn frame(lang: Lang, title: &str, who: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · chatvault" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    a.brand href="/" { "chatvault " (lang.t("审阅", "review")) }
                    @if let Some(s) = who {
                        a href="/" { (lang.t("搜索", "Search")) }
                        a href="/audit" { (lang.t("审计", "Audit")) }
                        a href="/status" { (lang.t("状态", "Status")) }
                        @if s.user.role == Role::Admin {
                            a href="/access-log" { (lang.t("访问日志", "Access log")) }
                        }
                        span { (s.user.name) }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" { (lang.t("退出", "Log out")) }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// One path segment, percent-encoded (chat and message ids may hold `/`, `?`, `#` …).
pub(crate) fn seg(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// A query-string value, percent-encoded.
pub(crate) fn q(s: &str) -> String {
    seg(s)
}

/// `route?name=value&…`, each value percent-encoded: a link that keeps a page's filters.
pub(crate) fn with_query(route: &str, fields: &[(&str, &str)]) -> String {
    let pairs: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", q(v))).collect();
    format!("{route}?{}", pairs.join("&"))
}

/// Local time for display.
pub(crate) fn time(ms: i64, tz: chrono_tz::Tz) -> String {
    use chrono::TimeZone;
    match tz.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => ms.to_string(),
    }
}

/// `route` followed by `segments`, each percent-encoded (`/chat/yunhu/team/c1`): the address
/// of a chat, message or attachment, and its access-log target.
pub(crate) fn path(route: &str, segments: &[&str]) -> String {
    let mut p = route.to_string();
    for s in segments {
        p.push('/');
        p.push_str(&seg(s));
    }
    p
}

/// `/chat/…` for a message's chat, focused on it.
pub(crate) fn chat_url(k: &proto::MessageKey) -> String {
    let chat = path("/chat", &[k.platform.as_str(), &k.account, &k.chat_id]);
    format!("{chat}?at={}", q(&k.msg_id))
}

/// `/message/…` of a message.
pub(crate) fn message_url(k: &proto::MessageKey) -> String {
    path("/message", &[k.platform.as_str(), &k.account, &k.chat_id, &k.msg_id])
}

/// `/attachment/…` of attachment `index` of a message.
pub(crate) fn attachment_url(k: &proto::MessageKey, index: usize) -> String {
    let message = path("/attachment", &[k.platform.as_str(), &k.account, &k.chat_id, &k.msg_id]);
    format!("{message}/{index}")
}
