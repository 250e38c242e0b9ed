//! The WeCom API client against the simulator's fake API: token caching and refresh, the
//! busy retry, error messages without secrets, no `gettoken` hot loop.

use std::time::Duration;

use chatvault_ingest::wecom::api::{ApiError, WecomApi};
use config::Secret;
use sim::wecom::{self, FakeApi};

async fn api() -> (FakeApi, WecomApi) {
    let fake = FakeApi::start(0, wecom::SECRET).await.unwrap();
    let client = WecomApi::new(&fake.base_url(), wecom::CORP_ID, Secret::new(wecom::SECRET)).unwrap();
    (fake, client)
}

#[tokio::test]
async fn the_token_is_fetched_once_and_reused() {
    let (fake, api) = api().await;
    for _ in 0..5 {
        assert_eq!(api.user_name("lisi").await.unwrap(), "李四");
    }
    assert_eq!(
        api.group_chat_name(wecom::DEMO_GROUP.0).await.unwrap(),
        wecom::DEMO_GROUP.1
    );
    assert_eq!(fake.gettoken_calls(), 1);
    assert_eq!(fake.api_calls(), 6);
}

#[tokio::test]
async fn system_busy_is_retried_then_reported() {
    let (fake, api) = api().await;
    fake.busy(2);
    assert_eq!(api.user_name("wangwu").await.unwrap(), "王五");
    fake.busy(3);
    let e = api.user_name("wangwu").await.unwrap_err();
    assert!(matches!(e, ApiError::Platform { code: -1, .. }), "{e}");
    assert!(e.to_string().contains("系统繁忙"));
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_not_in_a_loop() {
    let (fake, api) = api().await;
    assert!(api.user_name("lisi").await.is_ok());
    // Default spacing of 12 s between fetches: a refresh right away is refused, not sent.
    fake.expire_token(1);
    let e = api.user_name("lisi").await.unwrap_err();
    assert!(matches!(e, ApiError::TokenThrottled(_)), "{e}");
    assert_eq!(fake.gettoken_calls(), 1);
    // With no spacing the refresh happens and the call succeeds.
    let api = WecomApi::new(&fake.base_url(), wecom::CORP_ID, Secret::new(wecom::SECRET))
        .unwrap()
        .with_token_min_interval(Duration::ZERO);
    assert!(api.user_name("lisi").await.is_ok());
    fake.expire_token(1);
    assert_eq!(api.user_name("zhaoliu").await.unwrap(), "赵六");
    assert_eq!(fake.gettoken_calls(), 3);
}

#[tokio::test]
async fn errors_name_the_code_and_never_the_secret_or_token() {
    let fake = FakeApi::start(0, wecom::SECRET).await.unwrap();
    let wrong = WecomApi::new(&fake.base_url(), wecom::CORP_ID, Secret::new("wrong-secret-value")).unwrap();
    let e = wrong.token().await.unwrap_err();
    assert!(e.is_auth());
    let text = e.to_string();
    assert!(text.contains("40001") && text.contains("secret 不合法"), "{text}");
    assert!(!text.contains("wrong-secret-value"));
    let (_, api) = api().await;
    let e = api.user_name("nobody").await.unwrap_err();
    assert!(e.to_string().contains("60111"), "{e}");
    // Unreachable API: the transport error carries no URL (which would hold the secret).
    let dead = WecomApi::new("http://127.0.0.1:9", wecom::CORP_ID, Secret::new(wecom::SECRET)).unwrap();
    let text = dead.token().await.unwrap_err().to_string();
    assert!(!text.contains(wecom::SECRET) && !text.contains("corpsecret"), "{text}");
}

#[tokio::test]
async fn media_bytes_are_downloaded_and_json_errors_reported() {
    let (_, api) = api().await;
    assert_eq!(api.media("MEDIA_x").await.unwrap(), wecom::media_bytes("MEDIA_x"));
    let e = api.media("expired").await.unwrap_err();
    assert!(matches!(e, ApiError::Platform { code: 40007, .. }), "{e}");
}
