//! Store conformance: the same expectations on SQLite and PostgreSQL (`store::sqlite::<name>`,
//! `store::postgres::<name>`).

use mender_core::{Secret, TenantId, Timestamp, TokenId, UserId};
use mender_db::testing::Backend;
use mender_useradm::SCHEMA;
use mender_useradm::store::{
    SettingsRecord, SqlStore, StoreError, TokenRecord, UserChanges, UserFilter, UserRecord,
    UseradmStore,
};
use serde_json::{Value, json};

mender_db::each_backend!(
    users_crud_and_filters,
    update_revokes_other_tokens_atomically,
    session_limit_keeps_newest,
    personal_tokens_limit_names_and_use,
    tokens_of_deleted_users_do_not_verify,
    settings_with_etags,
    times_round_trip_in_seconds,
);

/// The open-source tenant.
fn oss() -> TenantId {
    TenantId::default_tenant()
}

fn uid(id: &str) -> UserId {
    id.into()
}

fn tid(id: &str) -> TokenId {
    id.into()
}

fn secs(s: i64) -> Timestamp {
    Timestamp::from_unix_secs(s)
}

fn user(id: &str, email: &str, at: i64) -> UserRecord {
    UserRecord {
        id: id.into(),
        tenant_id: oss(),
        email: email.into(),
        password_hash: "$2a$04$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234".into(),
        created_at: secs(at),
        updated_at: secs(at),
        login_at: None,
    }
}

fn token(id: &str, user: &str, name: Option<&str>, at: i64) -> TokenRecord {
    TokenRecord {
        id: id.into(),
        user_id: user.into(),
        tenant_id: oss(),
        name: name.map(Into::into),
        issued_at: secs(at),
        expires_at: None,
        last_used: None,
    }
}

/// A filter with the conditions `set` sets.
fn filter(set: impl FnOnce(&mut UserFilter)) -> UserFilter {
    let mut f = UserFilter::default();
    set(&mut f);
    f
}

fn settings(values: Value, etag: &str) -> SettingsRecord {
    SettingsRecord {
        values,
        etag: etag.into(),
    }
}

fn ids(v: Vec<UserRecord>) -> Vec<String> {
    v.into_iter().map(|u| u.id.into_string()).collect()
}

/// The open-source user `id`, which must exist.
async fn oss_user(s: &SqlStore, id: &str) -> UserRecord {
    s.get_user(&oss(), &uid(id)).await.unwrap().unwrap()
}

/// Whether the token `t` of the open-source user `u` verifies.
async fn alive(s: &SqlStore, u: &str, t: &str) -> bool {
    s.check_token(&oss(), &uid(u), &tid(t))
        .await
        .unwrap()
        .is_some()
}

async fn users_crud_and_filters(backend: Backend) {
    let (s, _db) = backend.open_with(&SCHEMA, SqlStore).await;
    assert!(!s.has_users().await.unwrap());
    s.create_user(&user("u1", "a@x.io", 100)).await.unwrap();
    assert!(s.has_users().await.unwrap());
    s.create_user(&user("u2", "b@x.io", 200)).await.unwrap();
    let mut t = user("u3", "c@x.io", 300);
    t.tenant_id = "t1".into();
    s.create_user(&t).await.unwrap();
    let e = s.create_user(&user("u9", "a@x.io", 1)).await;
    assert!(matches!(e, Err(StoreError::DuplicateEmail)), "{e:?}");
    assert!(matches!(
        s.create_user(&user("u1", "z@x.io", 1)).await,
        Err(StoreError::DuplicateId)
    ));

    assert_eq!(oss_user(&s, "u1").await.email, "a@x.io");
    assert!(
        s.get_user(&oss(), &uid("u3")).await.unwrap().is_none(),
        "other tenant"
    );
    let t1 = TenantId::from("t1");
    let u3 = s.get_user(&t1, &uid("u3")).await.unwrap().unwrap();
    assert_eq!(u3.id, "u3");
    let by_email = async |email: &str| s.get_user_by_email(&oss(), email).await.unwrap();
    assert_eq!(by_email("b@x.io").await.unwrap().id, "u2");
    assert!(by_email("c@x.io").await.is_none());

    let filters: Vec<(&str, UserFilter, &[&str])> = vec![
        ("none", UserFilter::default(), &["u1", "u2"]),
        (
            "created after",
            filter(|f| f.created_after = Some(secs(100))),
            &["u2"],
        ),
        (
            "created before",
            filter(|f| f.created_before = Some(secs(200))),
            &["u1"],
        ),
        (
            "emails",
            filter(|f| f.emails = Some(vec!["b@x.io".into(), "q@x.io".into()])),
            &["u2"],
        ),
        (
            "ids and updated before",
            filter(|f| {
                f.ids = Some(vec![uid("u1"), uid("u2")]);
                f.updated_before = Some(secs(150));
            }),
            &["u1"],
        ),
        (
            "updated after",
            filter(|f| f.updated_after = Some(secs(150))),
            &["u2"],
        ),
        ("empty id list", filter(|f| f.ids = Some(vec![])), &[]),
        ("empty email list", filter(|f| f.emails = Some(vec![])), &[]),
    ];
    for (name, f, want) in filters {
        assert_eq!(ids(s.list_users(&oss(), &f).await.unwrap()), want, "{name}");
    }
    let all = UserFilter::default();
    assert_eq!(ids(s.list_users(&t1, &all).await.unwrap()), ["u3"]);

    s.set_login_time(&oss(), &uid("u1"), secs(555))
        .await
        .unwrap();
    assert_eq!(oss_user(&s, "u1").await.login_at, Some(secs(555)));
}

async fn update_revokes_other_tokens_atomically(backend: Backend) {
    let (s, _db) = backend.open_with(&SCHEMA, SqlStore).await;
    s.create_user(&user("u1", "a@x.io", 1)).await.unwrap();
    s.create_user(&user("u2", "b@x.io", 1)).await.unwrap();
    for (id, u) in [("t1", "u1"), ("t2", "u1"), ("t3", "u2")] {
        s.save_session_token(&token(id, u, None, 1), 0)
            .await
            .unwrap();
    }
    // A duplicate email changes nothing, not even the tokens.
    let dup = UserChanges {
        email: Some("b@x.io".into()),
        password_hash: None,
        updated_at: secs(9),
    };
    assert!(matches!(
        s.update_user(&oss(), &uid("u1"), &dup, Some(&tid("t1")))
            .await,
        Err(StoreError::DuplicateEmail)
    ));
    assert!(alive(&s, "u1", "t2").await);
    assert_eq!(oss_user(&s, "u1").await.email, "a@x.io");

    let ok = UserChanges {
        email: Some("new@x.io".into()),
        password_hash: Some(Secret::from("h")),
        updated_at: secs(9),
    };
    s.update_user(&oss(), &uid("u1"), &ok, Some(&tid("t1")))
        .await
        .unwrap();
    let u = oss_user(&s, "u1").await;
    assert_eq!(
        (u.email.as_str(), u.password_hash.expose_str(), u.updated_at),
        ("new@x.io", "h", secs(9))
    );
    assert!(alive(&s, "u1", "t1").await, "kept");
    assert!(!alive(&s, "u1", "t2").await, "revoked");
    assert!(alive(&s, "u2", "t3").await, "other user untouched");
    assert!(matches!(
        s.update_user(&oss(), &uid("nope"), &ok, None).await,
        Err(StoreError::NotFound)
    ));

    // Delete takes tokens and personal settings along.
    let u2 = uid("u2");
    s.save_settings(&oss(), Some(&u2), &settings(json!({"a": 1}), "e1"), None)
        .await
        .unwrap();
    assert!(s.delete_user(&oss(), &u2).await.unwrap());
    assert!(!s.delete_user(&oss(), &u2).await.unwrap());
    assert!(!alive(&s, "u2", "t3").await);
    assert!(s.get_settings(&oss(), Some(&u2)).await.unwrap().is_none());
}

async fn session_limit_keeps_newest(backend: Backend) {
    let (s, _db) = backend.open_with(&SCHEMA, SqlStore).await;
    s.create_user(&user("u1", "a@x.io", 1)).await.unwrap();
    s.create_personal_token(&token("pat", "u1", Some("p"), 1), 10)
        .await
        .unwrap();
    for i in 0..5 {
        // Same second on purpose: insertion order decides.
        s.save_session_token(&token(&format!("s{i}"), "u1", None, 7), 3)
            .await
            .unwrap();
    }
    for (id, want) in [
        ("s0", false),
        ("s1", false),
        ("s2", true),
        ("s3", true),
        ("s4", true),
        ("pat", true),
    ] {
        assert_eq!(alive(&s, "u1", id).await, want, "{id}");
    }
}

async fn personal_tokens_limit_names_and_use(backend: Backend) {
    let (s, _db) = backend.open_with(&SCHEMA, SqlStore).await;
    let (u1, u2) = (uid("u1"), uid("u2"));
    s.create_user(&user("u1", "a@x.io", 1)).await.unwrap();
    s.create_personal_token(&token("p1", "u1", Some("one"), 1), 2)
        .await
        .unwrap();
    assert!(matches!(
        s.create_personal_token(&token("p2", "u1", Some("one"), 1), 2)
            .await,
        Err(StoreError::DuplicateTokenName)
    ));
    s.create_personal_token(&token("p2", "u1", Some("two"), 2), 2)
        .await
        .unwrap();
    // At the limit: the limit wins, even over a duplicate name; nothing is written.
    for name in ["three", "one"] {
        assert!(matches!(
            s.create_personal_token(&token("p3", "u1", Some(name), 3), 2)
                .await,
            Err(StoreError::TooManyTokens)
        ));
    }
    assert!(!alive(&s, "u1", "p3").await);
    let list = s.list_personal_tokens(&oss(), &u1).await.unwrap();
    assert_eq!(
        list.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["p1", "p2"]
    );

    let check = async |user: &UserId| s.check_token(&oss(), user, &tid("p1")).await.unwrap();
    let c = check(&u1).await.unwrap();
    assert_eq!((c.name.as_deref(), c.last_used), (Some("one"), None));
    s.touch_token(&tid("p1"), secs(42)).await.unwrap();
    assert_eq!(check(&u1).await.unwrap().last_used, Some(secs(42)));
    assert!(check(&u2).await.is_none(), "wrong subject");

    assert_eq!(
        s.delete_token(&oss(), &u2, &tid("p1")).await.unwrap(),
        0,
        "not the owner"
    );
    assert_eq!(s.delete_token(&oss(), &u1, &tid("p1")).await.unwrap(), 1);
    s.save_session_token(&token("s1", "u1", None, 1), 0)
        .await
        .unwrap();
    assert_eq!(s.delete_user_tokens(&oss(), &u1).await.unwrap(), 2);
    s.save_session_token(&token("s2", "u1", None, 1), 0)
        .await
        .unwrap();
    assert_eq!(s.delete_tenant_tokens(&"other".into()).await.unwrap(), 0);
    assert_eq!(s.delete_tenant_tokens(&oss()).await.unwrap(), 1);
}

async fn tokens_of_deleted_users_do_not_verify(backend: Backend) {
    let (s, _db) = backend.open_with(&SCHEMA, SqlStore).await;
    s.create_user(&user("u1", "a@x.io", 1)).await.unwrap();
    s.save_session_token(&token("t1", "u1", None, 1), 0)
        .await
        .unwrap();
    assert!(alive(&s, "u1", "t1").await);
    s.delete_user(&oss(), &uid("u1")).await.unwrap();
    assert!(!alive(&s, "u1", "t1").await);
}

async fn settings_with_etags(backend: Backend) {
    let (s, _db) = backend.open_with(&SCHEMA, SqlStore).await;
    let global = async || s.get_settings(&oss(), None).await.unwrap();
    let save = async |values: Value, etag: &str, if_match: Option<&str>| {
        s.save_settings(&oss(), None, &settings(values, etag), if_match)
            .await
    };
    assert!(global().await.is_none());
    // If-Match on missing settings creates them, as upstream's upsert does.
    save(json!({"a": 1}), "e1", Some("whatever")).await.unwrap();
    let got = global().await.unwrap();
    assert_eq!((got.values, got.etag.as_str()), (json!({"a": 1}), "e1"));
    assert!(matches!(
        save(json!({"b": 2}), "e2", Some("wrong")).await,
        Err(StoreError::ETagMismatch)
    ));
    assert_eq!(global().await.unwrap().etag, "e1");
    save(json!({"b": 2}), "e2", Some("e1")).await.unwrap();
    save(json!({"c": "é ✓"}), "e3", None).await.unwrap();
    let got = global().await.unwrap();
    assert_eq!((got.values, got.etag.as_str()), (json!({"c": "é ✓"}), "e3"));
    // Per-user settings are separate from the global ones and from other users'.
    let (u1, u2) = (uid("u1"), uid("u2"));
    let of = async |user: &UserId| s.get_settings(&oss(), Some(user)).await.unwrap();
    assert!(of(&u1).await.is_none());
    s.save_settings(&oss(), Some(&u1), &settings(json!({"u": 1}), "m1"), None)
        .await
        .unwrap();
    assert_eq!(of(&u1).await.unwrap().values, json!({"u": 1}));
    assert!(of(&u2).await.is_none());
    s.ping().await.unwrap();
}

/// Every stored time comes back as the same instant (the columns hold unix seconds).
async fn times_round_trip_in_seconds(backend: Backend) {
    let (s, _db) = backend.open_with(&SCHEMA, SqlStore).await;
    let mut u = user("u1", "a@x.io", 1_704_164_645);
    u.updated_at = secs(1_704_164_700);
    u.login_at = Some(secs(1_704_164_800));
    s.create_user(&u).await.unwrap();
    assert_eq!(oss_user(&s, "u1").await, u);
    let mut t = token("p1", "u1", Some("ci"), 1_704_164_645);
    t.expires_at = Some(secs(1_704_168_245));
    t.last_used = Some(secs(1_704_164_900));
    s.create_personal_token(&t, 0).await.unwrap();
    assert_eq!(
        s.list_personal_tokens(&oss(), &uid("u1")).await.unwrap(),
        [t]
    );
}
