//! Error pages: the status code, a short page in the user's language, no data. Every refusal
//! of an authenticated or anonymous request is written to the access log by its caller.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

use crate::i18n::Lang;
use crate::page::frame;

/// A plain error page.
pub(crate) fn page(status: StatusCode, lang: Lang, title: &str, detail: &str) -> Response {
    let body = html! {
        div.error {
            h1 { (title) }
            p { (detail) }
            p { a href="/" { (lang.t("返回搜索", "Back to search")) } }
        }
    };
    (
        status,
        axum::response::Html(frame(lang, title, None, body).into_string()),
    )
        .into_response()
}

/// 404.
pub(crate) fn not_found(lang: Lang) -> Response {
    page(
        StatusCode::NOT_FOUND,
        lang,
        lang.t("页面不存在", "Not found"),
        lang.t("没有这个页面或消息。", "There is no such page or message."),
    )
}

/// 403: out of the user's scope or role.
pub(crate) fn forbidden(lang: Lang) -> Response {
    page(
        StatusCode::FORBIDDEN,
        lang,
        lang.t("无权访问", "Access denied"),
        lang.t(
            "您的账户无权查看此内容。此次访问已记录。",
            "Your account may not see this. The attempt was logged.",
        ),
    )
}

/// 400 with a reason.
pub(crate) fn bad_request(lang: Lang, detail: &str) -> Response {
    page(StatusCode::BAD_REQUEST, lang, lang.t("请求无效", "Bad request"), detail)
}

/// 500: something on the server failed; the detail goes to the server log only.
pub(crate) fn internal(lang: Lang, what: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %what, "reviewer UI request failed");
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        lang,
        lang.t("服务器错误", "Server error"),
        lang.t(
            "请求未能完成，请稍后再试。",
            "The request could not be completed; try again later.",
        ),
    )
}
