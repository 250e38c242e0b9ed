//! The SeaweedFS server of the lake tests (`testkit::seaweed`) and the export's settings for
//! reaching it.

use export::{Credential, S3Settings};
pub use testkit::seaweed::{ACCESS_KEY, BUCKET, SECRET_KEY, Seaweed, lake_venv, unique_prefix};

/// The server shared by this test binary.
pub fn seaweed() -> &'static Seaweed {
    testkit::seaweed::shared()
}

/// The export's view of a server: its S3 settings.
pub trait Settings {
    /// Settings that reach the server with the right credentials.
    fn settings(&self) -> S3Settings;
}

impl Settings for Seaweed {
    fn settings(&self) -> S3Settings {
        S3Settings {
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            path_style: true,
            allow_http: true,
            access_key_id: Some(Credential::new(ACCESS_KEY)),
            secret_access_key: Some(Credential::new(SECRET_KEY)),
        }
    }
}
