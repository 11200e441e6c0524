//! Store conformance: the same expectations on SQLite and PostgreSQL.

use mender_useradm::store::{StoreError, TokenRecord, UserChanges, UserFilter, UserRecord};
use serde_json::json;

use crate::common::envs;

fn user(id: &str, email: &str, at: i64) -> UserRecord {
    UserRecord {
        id: id.into(),
        tenant_id: String::new(),
        email: email.into(),
        password_hash: "$2a$04$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234".into(),
        created_at: at,
        updated_at: at,
        login_at: None,
    }
}

fn token(id: &str, user: &str, name: Option<&str>, at: i64) -> TokenRecord {
    TokenRecord {
        id: id.into(),
        user_id: user.into(),
        tenant_id: String::new(),
        name: name.map(Into::into),
        issued_at: at,
        expires_at: None,
        last_used: None,
    }
}

#[tokio::test]
async fn users_crud_and_filters() {
    for env in envs().await {
        let s = &env.store;
        assert!(!s.has_users().await.unwrap());
        s.create_user(&user("u1", "a@x.io", 100)).await.unwrap();
        assert!(s.has_users().await.unwrap());
        s.create_user(&user("u2", "b@x.io", 200)).await.unwrap();
        let mut t = user("u3", "c@x.io", 300);
        t.tenant_id = "t1".into();
        s.create_user(&t).await.unwrap();
        let e = s.create_user(&user("u9", "a@x.io", 1)).await;
        assert!(
            matches!(e, Err(StoreError::DuplicateEmail)),
            "{} {e:?}",
            env.backend
        );
        assert!(matches!(
            s.create_user(&user("u1", "z@x.io", 1)).await,
            Err(StoreError::DuplicateId)
        ));

        assert_eq!(s.get_user("", "u1").await.unwrap().unwrap().email, "a@x.io");
        assert!(
            s.get_user("", "u3").await.unwrap().is_none(),
            "other tenant"
        );
        assert_eq!(s.get_user("t1", "u3").await.unwrap().unwrap().id, "u3");
        assert_eq!(
            s.get_user_by_email("", "b@x.io").await.unwrap().unwrap().id,
            "u2"
        );
        assert!(s.get_user_by_email("", "c@x.io").await.unwrap().is_none());

        let ids = |v: Vec<UserRecord>| v.into_iter().map(|u| u.id).collect::<Vec<_>>();
        assert_eq!(
            ids(s.list_users("", &UserFilter::default()).await.unwrap()),
            ["u1", "u2"]
        );
        let f = UserFilter {
            created_after: Some(100),
            ..Default::default()
        };
        assert_eq!(ids(s.list_users("", &f).await.unwrap()), ["u2"]);
        let f = UserFilter {
            created_before: Some(200),
            ..Default::default()
        };
        assert_eq!(ids(s.list_users("", &f).await.unwrap()), ["u1"]);
        let f = UserFilter {
            emails: Some(vec!["b@x.io".into(), "q@x.io".into()]),
            ..Default::default()
        };
        assert_eq!(ids(s.list_users("", &f).await.unwrap()), ["u2"]);
        let f = UserFilter {
            ids: Some(vec!["u1".into(), "u2".into()]),
            updated_before: Some(150),
            ..Default::default()
        };
        assert_eq!(ids(s.list_users("", &f).await.unwrap()), ["u1"]);
        let f = UserFilter {
            ids: Some(vec![]),
            ..Default::default()
        };
        assert!(s.list_users("", &f).await.unwrap().is_empty());
        assert_eq!(
            ids(s.list_users("t1", &UserFilter::default()).await.unwrap()),
            ["u3"]
        );

        s.set_login_time("", "u1", 555).await.unwrap();
        assert_eq!(
            s.get_user("", "u1").await.unwrap().unwrap().login_at,
            Some(555)
        );
    }
}

#[tokio::test]
async fn update_revokes_other_tokens_atomically() {
    for env in envs().await {
        let s = &env.store;
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
            updated_at: 9,
        };
        assert!(matches!(
            s.update_user("", "u1", &dup, Some("t1")).await,
            Err(StoreError::DuplicateEmail)
        ));
        assert!(s.check_token("", "u1", "t2").await.unwrap().is_some());
        assert_eq!(s.get_user("", "u1").await.unwrap().unwrap().email, "a@x.io");

        let ok = UserChanges {
            email: Some("new@x.io".into()),
            password_hash: Some("h".into()),
            updated_at: 9,
        };
        s.update_user("", "u1", &ok, Some("t1")).await.unwrap();
        let u = s.get_user("", "u1").await.unwrap().unwrap();
        assert_eq!(
            (u.email.as_str(), u.password_hash.as_str(), u.updated_at),
            ("new@x.io", "h", 9)
        );
        assert!(
            s.check_token("", "u1", "t1").await.unwrap().is_some(),
            "kept"
        );
        assert!(
            s.check_token("", "u1", "t2").await.unwrap().is_none(),
            "revoked"
        );
        assert!(
            s.check_token("", "u2", "t3").await.unwrap().is_some(),
            "other user untouched"
        );
        assert!(matches!(
            s.update_user("", "nope", &ok, None).await,
            Err(StoreError::NotFound)
        ));

        // Delete takes tokens and personal settings along.
        s.save_settings("", Some("u2"), &json!({"a": 1}), "e1", None)
            .await
            .unwrap();
        assert!(s.delete_user("", "u2").await.unwrap());
        assert!(!s.delete_user("", "u2").await.unwrap());
        assert!(s.check_token("", "u2", "t3").await.unwrap().is_none());
        assert!(s.get_settings("", Some("u2")).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn session_limit_keeps_newest() {
    for env in envs().await {
        let s = &env.store;
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
        for (id, alive) in [
            ("s0", false),
            ("s1", false),
            ("s2", true),
            ("s3", true),
            ("s4", true),
            ("pat", true),
        ] {
            assert_eq!(
                s.check_token("", "u1", id).await.unwrap().is_some(),
                alive,
                "{} {id}",
                env.backend
            );
        }
    }
}

#[tokio::test]
async fn personal_tokens_limit_names_and_use() {
    for env in envs().await {
        let s = &env.store;
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
        assert!(s.check_token("", "u1", "p3").await.unwrap().is_none());
        let list = s.list_personal_tokens("", "u1").await.unwrap();
        assert_eq!(
            list.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
            ["p1", "p2"]
        );

        let c = s.check_token("", "u1", "p1").await.unwrap().unwrap();
        assert_eq!((c.name.as_deref(), c.last_used), (Some("one"), None));
        s.touch_token("p1", 42).await.unwrap();
        assert_eq!(
            s.check_token("", "u1", "p1")
                .await
                .unwrap()
                .unwrap()
                .last_used,
            Some(42)
        );
        assert!(
            s.check_token("", "u2", "p1").await.unwrap().is_none(),
            "wrong subject"
        );

        assert_eq!(
            s.delete_token("", "u2", "p1").await.unwrap(),
            0,
            "not the owner"
        );
        assert_eq!(s.delete_token("", "u1", "p1").await.unwrap(), 1);
        s.save_session_token(&token("s1", "u1", None, 1), 0)
            .await
            .unwrap();
        assert_eq!(s.delete_user_tokens("", "u1").await.unwrap(), 2);
        s.save_session_token(&token("s2", "u1", None, 1), 0)
            .await
            .unwrap();
        assert_eq!(s.delete_tenant_tokens("other").await.unwrap(), 0);
        assert_eq!(s.delete_tenant_tokens("").await.unwrap(), 1);
    }
}

#[tokio::test]
async fn tokens_of_deleted_users_do_not_verify() {
    for env in envs().await {
        let s = &env.store;
        s.create_user(&user("u1", "a@x.io", 1)).await.unwrap();
        s.save_session_token(&token("t1", "u1", None, 1), 0)
            .await
            .unwrap();
        assert!(s.check_token("", "u1", "t1").await.unwrap().is_some());
        s.delete_user("", "u1").await.unwrap();
        assert!(s.check_token("", "u1", "t1").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn settings_with_etags() {
    for env in envs().await {
        let s = &env.store;
        assert!(s.get_settings("", None).await.unwrap().is_none());
        // If-Match on missing settings creates them, as upstream's upsert does.
        s.save_settings("", None, &json!({"a": 1}), "e1", Some("whatever"))
            .await
            .unwrap();
        let got = s.get_settings("", None).await.unwrap().unwrap();
        assert_eq!((got.values, got.etag.as_str()), (json!({"a": 1}), "e1"));
        assert!(matches!(
            s.save_settings("", None, &json!({"b": 2}), "e2", Some("wrong"))
                .await,
            Err(StoreError::ETagMismatch)
        ));
        assert_eq!(s.get_settings("", None).await.unwrap().unwrap().etag, "e1");
        s.save_settings("", None, &json!({"b": 2}), "e2", Some("e1"))
            .await
            .unwrap();
        s.save_settings("", None, &json!({"c": "é ✓"}), "e3", None)
            .await
            .unwrap();
        let got = s.get_settings("", None).await.unwrap().unwrap();
        assert_eq!((got.values, got.etag.as_str()), (json!({"c": "é ✓"}), "e3"));
        // Per-user settings are separate from the global ones and from other users'.
        assert!(s.get_settings("", Some("u1")).await.unwrap().is_none());
        s.save_settings("", Some("u1"), &json!({"u": 1}), "m1", None)
            .await
            .unwrap();
        assert_eq!(
            s.get_settings("", Some("u1"))
                .await
                .unwrap()
                .unwrap()
                .values,
            json!({"u": 1})
        );
        assert!(s.get_settings("", Some("u2")).await.unwrap().is_none());
        s.ping().await.unwrap();
    }
}
