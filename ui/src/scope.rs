//! A user's scopes applied to reads: search filters (the chats they may see) and single
//! checks (a chat, a message, an attachment). Search results are checked again one by one
//! before they are shown, so a filter that is too wide can never leak a message.

use proto::Platform;
use store::access::Scope;

/// The chat keys (`search::schema::chat_key`) a user with `scopes` may search, `None` when
/// unrestricted. Built from the archive's chat list.
pub(crate) fn allowed_chat_keys(
    scopes: &[Scope],
    reader: &store::StoreReader,
) -> Result<Option<Vec<String>>, store::StoreError> {
    if scopes.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        reader
            .chats()?
            .into_iter()
            .filter(|c| Scope::any_allows(scopes, c.platform, &c.chat_id))
            .map(|c| search::schema::chat_key(c.platform, &c.account, &c.chat_id))
            .collect(),
    ))
}

/// Whether the user may see chat `chat_id` of `platform`.
pub(crate) fn allows(scopes: &[Scope], platform: Platform, chat_id: &str) -> bool {
    Scope::any_allows(scopes, platform, chat_id)
}

/// The platforms a user with `scopes` may see anything of (`None`: every platform). A chat
/// scope counts its platform: that platform's connector gaps are gaps of the chat too.
pub(crate) fn platforms(scopes: &[Scope]) -> Option<Vec<Platform>> {
    if scopes.is_empty() {
        return None;
    }
    let mut v: Vec<Platform> = scopes
        .iter()
        .map(|s| match s {
            Scope::Platform { platform } | Scope::Chat { platform, .. } => *platform,
        })
        .collect();
    v.sort_by_key(|p| p.as_str());
    v.dedup();
    Some(v)
}
