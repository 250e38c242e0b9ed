//! Owner-only directories and files.
//!
//! Permissions are set when the directory or file is created (never widened afterwards), so
//! there is no moment when another user could open it. On other platforms the defaults apply.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::path::Path;

/// Creates `dir` and any missing parents with mode 0700. An existing directory is left as it
/// is (its owner chose its mode).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut b = DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Open options whose newly created files get mode 0600; the caller chooses the access mode
/// and the creation policy (`create_new`, `truncate`, …).
pub fn private_open_options() -> OpenOptions {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

/// Creates a new file with mode 0600 for writing; fails if `path` already exists, so an
/// existing file's mode is never trusted.
pub fn create_private_file(path: &Path) -> io::Result<File> {
    private_open_options().write(true).create_new(true).open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_directories_and_files_are_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        // Creating it again is not an error.
        create_private_dir(&dir).unwrap();

        let f = dir.join("db");
        create_private_file(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        let e = create_private_file(&f).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);

        let g = dir.join("blob");
        private_open_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&g)
            .unwrap();
        assert_eq!(mode(&g), 0o600);
    }
}
