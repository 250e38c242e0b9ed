//! The SeaweedFS server of the lake tests (`testkit::seaweed`), the export's settings for
//! reaching it, and a client of the tests' own that reads back what an export left there.

use std::collections::BTreeMap;

use export::{Credential, LakeFormat, LakeOptions, LakeTarget, Manifest, S3Settings};

use crate::common::{Archive, stdout_of};
use futures_util::StreamExt;
use object_store::path::Path as ObjPath;
use object_store::{Attribute, GetOptions, ObjectStore, ObjectStoreExt};
pub use testkit::seaweed::{ACCESS_KEY, BUCKET, SECRET_KEY, Seaweed, lake_venv, unique_prefix};

/// The standard output of the Python `script` of a lake reader (`what`, for a failure), run by
/// the workspace's `.venv` when there is one, with the readers' packages from [`lake_venv`].
pub fn lake_python(what: &str, script: &str) -> String {
    let venv = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    let python = if venv.exists() { venv } else { "python3".into() };
    stdout_of(
        what,
        std::process::Command::new(python)
            .env("PYTHONPATH", lake_venv())
            .arg("-c")
            .arg(script),
    )
}

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

/// A lake export of `a` to `prefix` in the bucket of `server`, in `format`, dated in Shanghai.
pub fn lake_options(a: &Archive, server: &Seaweed, prefix: &str, format: LakeFormat) -> LakeOptions {
    LakeOptions {
        data_dir: a.data_dir(),
        target: LakeTarget::parse(&format!("s3://{BUCKET}/{prefix}")).unwrap(),
        s3: server.settings(),
        format,
        tz: chrono_tz::Asia::Shanghai,
        full: false,
        fail_after_uploads: None,
    }
}

/// A runtime for the tests' own S3 client (the export runs its own).
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Object under a prefix, relative to it → (last modified, recorded sha256).
pub type Objects = BTreeMap<String, (chrono::DateTime<chrono::Utc>, Option<String>)>;

/// Every object under `prefix`.
pub fn objects(s: &Seaweed, prefix: &str) -> Objects {
    let c = s.client();
    rt().block_on(async {
        let mut out = BTreeMap::new();
        let mut list = c.list(Some(&ObjPath::from(prefix)));
        while let Some(m) = list.next().await {
            let m = m.unwrap();
            let head = c
                .get_opts(
                    &m.location,
                    GetOptions {
                        head: true,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            let sha = head
                .attributes
                .get(&Attribute::Metadata("sha256".into()))
                .map(|v| v.to_string());
            let rel = m
                .location
                .to_string()
                .strip_prefix(&format!("{prefix}/"))
                .unwrap()
                .to_string();
            out.insert(rel, (m.last_modified, sha));
        }
        out
    })
}

/// The `_manifest.json` under `prefix`, as readers of the target see it.
pub fn remote_manifest(s: &Seaweed, prefix: &str) -> Manifest {
    let c = s.client();
    let bytes = rt().block_on(async {
        c.get(&ObjPath::from(format!("{prefix}/_manifest.json")))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    });
    serde_json::from_slice(&bytes).unwrap()
}
