//! WeCom media fetched again: a callback's `MediaId` (image, voice, video messages) whose
//! first `media/get` failed is retried by [`crate::refetch`] through the same API client (its
//! token added at request time, never stored in the entry). A media id is valid for three
//! days (protocols.md §2.3 [WECOM-MSGFMT]), longer than the default retry schedule.

use std::sync::Arc;

use super::api::WecomApi;
use crate::refetch::{Fetch, FetchError, Source};

/// Fetches `WecomMedia` sources within the blob cap.
pub struct MediaFetch {
    /// The API client.
    pub api: Arc<WecomApi>,
    /// The blob store's cap.
    pub max_bytes: u64,
}

#[async_trait::async_trait]
impl Fetch for MediaFetch {
    async fn fetch(&self, source: &Source) -> Result<Vec<u8>, FetchError> {
        let Source::WecomMedia { media_id } = source else {
            return Err(FetchError {
                reason: "not a WeCom media id".into(),
                permanent: true,
            });
        };
        let bytes = self
            .api
            .media(media_id)
            .await
            .map_err(|e| FetchError::transient(e.to_string()))?;
        if bytes.len() as u64 > self.max_bytes {
            return Err(FetchError {
                reason: format!("larger than the blob cap of {} bytes", self.max_bytes),
                permanent: true,
            });
        }
        Ok(bytes)
    }
}
