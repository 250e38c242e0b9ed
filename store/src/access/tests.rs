//! Users, sessions and the access log against a real file.

use proto::Platform;
use serde_json::json;

use super::*;

fn db() -> (tempfile::TempDir, AccessDb) {
    let dir = tempfile::tempdir().unwrap();
    let db = AccessDb::open(dir.path()).unwrap();
    (dir, db)
}

fn entry<'a>(user: &'a str, action: &'a str, target: &'a str) -> NewAccess<'a> {
    NewAccess {
        user,
        action,
        target,
        detail: json!({"q": target}),
        outcome: Outcome::Ok,
    }
}

#[test]
fn users_keep_role_scopes_and_refuse_duplicates() {
    let (_d, db) = db();
    let scopes: Vec<Scope> = vec!["platform:wecom".parse().unwrap(), "chat:yunhu/群-1".parse().unwrap()];
    db.add_user("li.na", "$argon2id$x", Role::Reviewer, &scopes, 5).unwrap();
    let u = db.user("li.na").unwrap().unwrap();
    assert_eq!(u.scopes, scopes);
    assert_eq!(u.role, Role::Reviewer);
    assert!(!u.disabled);
    assert!(matches!(
        db.add_user("li.na", "h", Role::Admin, &[], 6),
        Err(AccessError::UserExists(_))
    ));
    assert!(matches!(
        db.add_user("a b", "h", Role::Admin, &[], 6),
        Err(AccessError::Invalid(_))
    ));
    assert!(Scope::any_allows(&u.scopes, Platform::Wecom, "any"));
    assert!(Scope::any_allows(&u.scopes, Platform::Yunhu, "群-1"));
    assert!(!Scope::any_allows(&u.scopes, Platform::Yunhu, "群-2"));
    assert!(Scope::any_allows(&[], Platform::Yunhu, "群-2"), "no scopes: everything");
    assert!("chat:wecom".parse::<Scope>().is_err());
    assert!("platform:nowhere".parse::<Scope>().is_err());
}

#[test]
fn a_disabled_users_old_session_stops_working() {
    let (_d, db) = db();
    db.add_user("wang", "h", Role::Reviewer, &[], 0).unwrap();
    db.create_session("tok", "wang", "csrf", 0).unwrap();
    assert_eq!(db.session("tok", 10, 1000).unwrap().unwrap().csrf, "csrf");
    assert!(db.session("tok-tampered", 10, 1000).unwrap().is_none());
    db.set_disabled("wang", true).unwrap();
    assert!(db.session("tok", 20, 1000).unwrap().is_none());
    assert!(db.user("wang").unwrap().unwrap().disabled);
}

#[test]
fn sessions_expire_when_idle_and_on_password_change() {
    let (_d, db) = db();
    db.add_user("wang", "h", Role::Reviewer, &[], 0).unwrap();
    db.create_session("a", "wang", "c", 0).unwrap();
    assert!(db.session("a", 900, 1000).unwrap().is_some());
    // Used at 900: still alive at 1800, gone at 2000 + 1.
    assert!(db.session("a", 1800, 1000).unwrap().is_some());
    assert!(db.session("a", 2801, 1000).unwrap().is_none());
    db.create_session("b", "wang", "c", 3000).unwrap();
    db.set_password("wang", "h2").unwrap();
    assert!(db.session("b", 3001, 1000).unwrap().is_none());
}

#[test]
fn the_log_chains_filters_and_refuses_updates() {
    let (_d, db) = db();
    db.record(&entry("a", "search", "农业"), 100).unwrap();
    db.record(&entry("b", "login", "b"), 200).unwrap();
    db.record(
        &NewAccess {
            outcome: Outcome::Denied,
            ..entry("b", "login", "b")
        },
        300,
    )
    .unwrap();
    let all = db.entries(&AccessFilter::default()).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].detail, json!({"q": "农业"}));
    let b = db
        .entries(&AccessFilter {
            user: Some("b".into()),
            since: Some(250),
        })
        .unwrap();
    assert_eq!(b.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3]);
    assert_eq!(db.failed_logins_since("b", 0).unwrap(), 1);
    let report = db.verify_log().unwrap();
    assert_eq!((report.entries, report.problem.clone()), (3, None));
    assert_eq!(report.head, all[2].hash);
    assert!(
        db.conn
            .execute("UPDATE log SET target = 'x' WHERE seq = 1", [])
            .is_err()
    );
    assert!(db.conn.execute("DELETE FROM log WHERE seq = 1", []).is_err());
}

#[test]
fn verify_finds_a_changed_or_removed_entry() {
    let (dir, db) = db();
    for i in 0..4 {
        db.record(&entry("a", "search", &format!("q{i}")), i).unwrap();
    }
    drop(db);
    // Someone with the file at hand goes around the triggers.
    let raw = rusqlite::Connection::open(dir.path().join(ACCESS_DB_FILE)).unwrap();
    raw.execute_batch("DROP TRIGGER log_no_update; UPDATE log SET target = 'harmless' WHERE seq = 2;")
        .unwrap();
    let db = AccessDb::open(dir.path()).unwrap();
    let r = db.verify_log().unwrap();
    assert!(
        r.problem.unwrap().contains("entry 2 does not match"),
        "changed entry found"
    );

    let dir2 = tempfile::tempdir().unwrap();
    let db2 = AccessDb::open(dir2.path()).unwrap();
    for i in 0..4 {
        db2.record(&entry("a", "view_message", &format!("m{i}")), i).unwrap();
    }
    db2.conn
        .execute_batch("DROP TRIGGER log_no_delete; DELETE FROM log WHERE seq = 3;")
        .unwrap();
    let r = db2.verify_log().unwrap();
    assert!(r.problem.unwrap().contains("entry 3 is missing"), "removed entry found");
}

#[test]
fn a_foreign_file_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(ACCESS_DB_FILE);
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch("CREATE TABLE other (x);").unwrap();
    drop(c);
    assert!(matches!(AccessDb::open(dir.path()), Err(AccessError::Foreign(_))));
}
