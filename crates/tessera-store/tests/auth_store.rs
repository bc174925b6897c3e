//! The auth store (settings, refresh tokens, API tokens, users-table reads), every
//! scenario on both a temporary SQLite file and a fresh Postgres schema.
//!
//! Postgres comes from `TESSERA_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). If it cannot be reached the Postgres tests
//! FAIL: the suite is only green when both stores pass.

use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use tessera_schema::{parse_fields, TableSchema, Value};
use tessera_store::{Inserted, Store, StoreConfig, StoreError};

#[derive(Debug, Clone, Copy)]
enum Kind {
    Sqlite,
    Postgres,
}

fn postgres_base_url() -> String {
    std::env::var("TESSERA_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh, empty database: a temporary directory, or a Postgres schema dropped on drop.
struct Location {
    config: StoreConfig,
    _dir: Option<tempfile::TempDir>,
    pg_schema: Option<String>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl Location {
    async fn new(kind: Kind) -> Location {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("tessera.db");
                Location { config: StoreConfig::Sqlite { path, readers: 2 }, _dir: Some(dir), pg_schema: None }
            }
            Kind::Postgres => {
                let schema = format!(
                    "ta_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed),
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
                );
                let base = postgres_base_url();
                let (client, connection) =
                    tokio_postgres::connect(&base, tokio_postgres::NoTls).await.unwrap_or_else(|e| {
                        panic!("Postgres at {base} is required for the Postgres half of these tests: {e}")
                    });
                tokio::spawn(connection);
                client.batch_execute(&format!("CREATE SCHEMA \"{schema}\"")).await.expect("create test schema");
                let separator = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
                Location { config: StoreConfig::Postgres { url, pool_size: 8 }, _dir: None, pg_schema: Some(schema) }
            }
        }
    }

    async fn open(&self) -> Store {
        Store::open(&self.config).await.expect("open store")
    }
}

impl Drop for Location {
    fn drop(&mut self) {
        if let Some(schema) = self.pg_schema.take() {
            // Drop is synchronous: drop the schema from a runtime on a thread of its own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(async move {
                    if let Ok((client, connection)) =
                        tokio_postgres::connect(&postgres_base_url(), tokio_postgres::NoTls).await
                    {
                        tokio::spawn(connection);
                        let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await;
                    }
                });
            })
            .join();
        }
    }
}

/// Runs a scenario `async fn(Kind)` as one test per store.
macro_rules! on_both_stores {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    super::$scenario(super::Kind::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    super::$scenario(super::Kind::Postgres).await;
                }
            }
        )*
    };
}

on_both_stores!(settings, refresh_tokens, concurrent_rotation, api_tokens, user_tokens, users_table);

/// Two copies of tessera starting at once on one database agree on one value.
async fn settings(kind: Kind) {
    let location = Location::new(kind).await;
    let first = location.open().await;
    let second = location.open().await;
    assert_eq!(first.setting("signing_key").await.unwrap(), None);

    for round in 0..20 {
        let key = format!("key_{round}");
        let (a, b, c) = tokio::join!(
            first.setting_or_insert(&key, "from-first"),
            second.setting_or_insert(&key, "from-second"),
            first.setting_or_insert(&key, "from-first-again"),
        );
        let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
        assert_eq!(a, b, "round {round}");
        assert_eq!(a, c, "round {round}");
        assert!(["from-first", "from-second", "from-first-again"].contains(&a.as_str()));
        assert_eq!(second.setting(&key).await.unwrap(), Some(a.clone()));
        assert_eq!(first.setting_or_insert(&key, "later").await.unwrap(), a);
    }

    assert_eq!(first.setting_or_insert("signing_key", "k1").await.unwrap(), "k1");
    assert_eq!(second.setting("signing_key").await.unwrap().as_deref(), Some("k1"));
    first.close().await;
    second.close().await;

    // Durable, and the system tables are created idempotently on reopening.
    let reopened = location.open().await;
    assert_eq!(reopened.setting("signing_key").await.unwrap().as_deref(), Some("k1"));
    assert_eq!(reopened.setting_or_insert("signing_key", "k2").await.unwrap(), "k1");
    reopened.close().await;
}

async fn refresh_tokens(kind: Kind) {
    let location = Location::new(kind).await;
    let store = location.open().await;
    assert_eq!(store.refresh_token(1).await.unwrap(), None);

    // A new family is named after its first token.
    let first = store.insert_refresh_token(7, None, "hash-1", 1_000, 100).await.unwrap();
    let record = store.refresh_token(first).await.unwrap().expect("first token");
    assert_eq!(record.id, first);
    assert_eq!(record.user_id, 7);
    assert_eq!(record.family_id, first);
    assert_eq!(record.secret_hash, "hash-1");
    assert_eq!((record.expires_at, record.created_at, record.used_at, record.revoked_at), (1_000, 100, None, None));

    // A second family for the same user is separate.
    let other = store.insert_refresh_token(7, None, "hash-other", 1_000, 100).await.unwrap();
    assert_ne!(other, first);
    assert_eq!(store.refresh_token(other).await.unwrap().unwrap().family_id, other);
    // Joining an existing family keeps its id.
    let joined = store.insert_refresh_token(7, Some(other), "hash-joined", 1_500, 110).await.unwrap();
    assert_eq!(store.refresh_token(joined).await.unwrap().unwrap().family_id, other);

    // Rotation: the old token is used, its successor is live in the same family.
    let second = store.rotate_refresh_token(first, "hash-2", 2_000, 150).await.unwrap().expect("rotated");
    let old = store.refresh_token(first).await.unwrap().unwrap();
    assert_eq!((old.used_at, old.revoked_at), (Some(150), None));
    let new = store.refresh_token(second).await.unwrap().unwrap();
    assert_eq!((new.user_id, new.family_id, new.secret_hash.as_str()), (7, first, "hash-2"));
    assert_eq!((new.expires_at, new.created_at, new.used_at, new.revoked_at), (2_000, 150, None, None));

    // Replaying the old token loses, and inserts nothing.
    assert_eq!(store.rotate_refresh_token(first, "hash-3", 3_000, 160).await.unwrap(), None);
    assert_eq!(store.refresh_token(first).await.unwrap().unwrap().used_at, Some(150), "used_at kept");
    assert_eq!(store.rotate_refresh_token(999_999, "hash-x", 3_000, 160).await.unwrap(), None);

    // Revoking the family revokes exactly its two tokens (so the lost rotations added none).
    assert_eq!(store.revoke_refresh_family(first, 170).await.unwrap(), 2);
    assert_eq!(store.refresh_token(second).await.unwrap().unwrap().revoked_at, Some(170));
    assert_eq!(store.refresh_token(first).await.unwrap().unwrap().revoked_at, Some(170));
    assert_eq!(store.revoke_refresh_family(first, 180).await.unwrap(), 0, "already revoked");
    assert_eq!(store.refresh_token(second).await.unwrap().unwrap().revoked_at, Some(170), "first revocation kept");
    // A revoked token does not rotate.
    assert_eq!(store.rotate_refresh_token(second, "hash-4", 3_000, 190).await.unwrap(), None);
    assert_eq!(store.revoke_refresh_family(first, 200).await.unwrap(), 0);

    // The other family is untouched.
    assert_eq!(store.refresh_token(other).await.unwrap().unwrap().revoked_at, None);
    assert_eq!(store.refresh_token(joined).await.unwrap().unwrap().revoked_at, None);
    store.close().await;
}

/// Many rotations of one token at once: exactly one wins.
async fn concurrent_rotation(kind: Kind) {
    let location = Location::new(kind).await;
    let store = location.open().await;
    for round in 0..5 {
        let token = store.insert_refresh_token(3, None, "hash", 1_000, 100).await.unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move { store.rotate_refresh_token(token, &format!("next-{i}"), 2_000, 200).await })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            if let Some(id) = task.await.unwrap().unwrap() {
                winners.push(id);
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one rotation wins: {winners:?}");
        assert_eq!(store.refresh_token(winners[0]).await.unwrap().unwrap().family_id, token);
        assert_eq!(store.revoke_refresh_family(token, 300).await.unwrap(), 2, "round {round}: one successor only");
    }
    store.close().await;
}

async fn api_tokens(kind: Kind) {
    let location = Location::new(kind).await;
    let store = location.open().await;
    assert_eq!(store.api_token(1).await.unwrap().map(|t| t.id), None);
    assert!(store.list_api_tokens(None).await.unwrap().is_empty());

    let scopes = json!({"tables": {"posts": ["list", "view"]}, "admin": false});
    let a = store.insert_api_token(1, "ci", &scopes, "hash-a", None, 100).await.unwrap();
    let b = store.insert_api_token(2, "backup", &json!(["*"]), "hash-b", Some(5_000), 200).await.unwrap();
    let c = store.insert_api_token(1, "deploy", &json!([]), "hash-c", Some(9_000), 300).await.unwrap();
    let d = store.insert_api_token(1, "same second", &json!(["x"]), "hash-d", None, 300).await.unwrap();

    let token = store.api_token(a).await.unwrap().expect("token a");
    assert_eq!((token.id, token.user_id, token.name.as_str()), (a, 1, "ci"));
    assert_eq!(token.scopes, scopes);
    assert_eq!(token.secret_hash, "hash-a");
    assert_eq!((token.expires_at, token.created_at, token.revoked_at), (None, 100, None));
    let token_b = store.api_token(b).await.unwrap().unwrap();
    assert_eq!((token_b.expires_at, token_b.scopes.clone()), (Some(5_000), json!(["*"])));

    // Serialized without its secret.
    let serialized = serde_json::to_value(&token).unwrap();
    assert!(serialized.get("secret_hash").is_none(), "{serialized}");
    assert_eq!(serialized["name"], "ci");
    assert_eq!(serialized["scopes"], scopes);

    // Newest first; ties (same second) by id, newest first.
    let ids = |tokens: Vec<tessera_store::ApiTokenRecord>| tokens.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(ids(store.list_api_tokens(Some(1)).await.unwrap()), vec![d, c, a]);
    assert_eq!(ids(store.list_api_tokens(Some(2)).await.unwrap()), vec![b]);
    assert_eq!(ids(store.list_api_tokens(None).await.unwrap()), vec![d, c, b, a]);
    assert!(store.list_api_tokens(Some(3)).await.unwrap().is_empty());

    // Revoking: only the owner's, only once.
    assert!(!store.revoke_api_token(a, Some(2), 400).await.unwrap(), "another user's token");
    assert_eq!(store.api_token(a).await.unwrap().unwrap().revoked_at, None);
    assert!(store.revoke_api_token(a, Some(1), 400).await.unwrap());
    assert!(!store.revoke_api_token(a, Some(1), 410).await.unwrap(), "already revoked");
    assert!(!store.revoke_api_token(a, None, 410).await.unwrap(), "already revoked");
    assert_eq!(store.api_token(a).await.unwrap().unwrap().revoked_at, Some(400));
    assert!(store.revoke_api_token(b, None, 420).await.unwrap(), "an admin revokes anyone's");
    assert!(!store.revoke_api_token(999_999, None, 420).await.unwrap());

    // Revoked tokens are still listed.
    let listed = store.list_api_tokens(None).await.unwrap();
    assert_eq!(
        listed.iter().map(|t| (t.id, t.revoked_at)).collect::<Vec<_>>(),
        vec![(d, None), (c, None), (b, Some(420)), (a, Some(400))]
    );
    store.close().await;
}

/// A password change revokes a user's refresh tokens; deleting the user deletes them all.
async fn user_tokens(kind: Kind) {
    let location = Location::new(kind).await;
    let store = location.open().await;
    let mine = store.insert_refresh_token(10, None, "h1", 1_000, 100).await.unwrap();
    let mine_too = store.insert_refresh_token(10, None, "h2", 1_000, 100).await.unwrap();
    let used = store.insert_refresh_token(10, None, "h3", 1_000, 100).await.unwrap();
    let rotated = store.rotate_refresh_token(used, "h4", 1_000, 110).await.unwrap().unwrap();
    let theirs = store.insert_refresh_token(11, None, "h5", 1_000, 100).await.unwrap();
    let api = store.insert_api_token(10, "t", &json!([]), "h", None, 100).await.unwrap();
    let their_api = store.insert_api_token(11, "t", &json!([]), "h", None, 100).await.unwrap();

    assert_eq!(store.revoke_user_refresh_tokens(10, 200).await.unwrap(), 4);
    for id in [mine, mine_too, used, rotated] {
        assert_eq!(store.refresh_token(id).await.unwrap().unwrap().revoked_at, Some(200), "token {id}");
    }
    assert_eq!(store.refresh_token(theirs).await.unwrap().unwrap().revoked_at, None);
    assert_eq!(store.revoke_user_refresh_tokens(10, 300).await.unwrap(), 0);
    assert_eq!(store.api_token(api).await.unwrap().unwrap().revoked_at, None, "API tokens are not refresh tokens");

    store.delete_user_tokens(10).await.unwrap();
    for id in [mine, mine_too, used, rotated] {
        assert_eq!(store.refresh_token(id).await.unwrap(), None, "token {id}");
    }
    assert!(store.api_token(api).await.unwrap().is_none());
    assert!(store.refresh_token(theirs).await.unwrap().is_some());
    assert!(store.api_token(their_api).await.unwrap().is_some());
    store.delete_user_tokens(10).await.unwrap();
    store.close().await;
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

async fn users_table(kind: Kind) {
    let location = Location::new(kind).await;
    let store = location.open().await;
    let fields = parse_fields(&json!({
        "email": {"type": "email", "unique": true},
        "username": {"type": "string", "unique": true},
        "password": "string",
        "role": "string",
    }))
    .unwrap();
    let users = store.create_table(TableSchema::new(0, "users", 0, fields)).await.unwrap();
    let row = |email: &str, username: &str, password: Option<&str>, role: Option<&str>| {
        vec![
            ("email".to_string(), text(email)),
            ("username".to_string(), text(username)),
            ("password".to_string(), password.map_or(Value::Null, text)),
            ("role".to_string(), role.map_or(Value::Null, text)),
        ]
    };
    let rows = vec![
        row("ada@example.com", "ada", Some("$argon2id$ada"), Some("admin")),
        row("bob@example.com", "bob", Some("$argon2id$bob"), Some("user")),
        row("nopass@example.com", "nopass", None, Some("user")),
        row("norole@example.com", "norole", Some("$argon2id$norole"), None),
    ];
    let Inserted::Ids(ids) = store.insert_rows(&users, rows, false).await.unwrap() else {
        panic!("asked for ids");
    };
    let [ada, bob, nopass, norole] = ids[..] else { panic!("four ids: {ids:?}") };

    let found = store.credentials(&users, "email", "ada@example.com").await.unwrap().expect("ada by email");
    assert_eq!((found.id, found.password_hash.as_str(), found.role.as_str()), (ada, "$argon2id$ada", "admin"));
    let found = store.credentials(&users, "username", "bob").await.unwrap().expect("bob by username");
    assert_eq!((found.id, found.password_hash.as_str(), found.role.as_str()), (bob, "$argon2id$bob", "user"));
    assert_eq!(store.credentials(&users, "email", "bob").await.unwrap(), None, "a username is not an email");
    assert_eq!(store.credentials(&users, "username", "nobody").await.unwrap(), None);
    assert_eq!(store.credentials(&users, "email", "ADA@example.com").await.unwrap(), None, "exact match");
    assert_eq!(store.credentials(&users, "username", "nopass").await.unwrap(), None, "no password, no sign-in");
    let found = store.credentials(&users, "username", "norole").await.unwrap().unwrap();
    assert_eq!((found.id, found.role.as_str()), (norole, ""));
    // An injection attempt is only a value.
    assert_eq!(store.credentials(&users, "email", "' OR 1=1 --").await.unwrap(), None);

    for column in ["password", "role", "id", "\"email\"", ""] {
        assert!(
            matches!(store.credentials(&users, column, "x").await, Err(StoreError::Corrupt(_))),
            "column {column:?} must be refused"
        );
    }

    assert_eq!(store.user_role(&users, ada).await.unwrap().as_deref(), Some("admin"));
    assert_eq!(store.user_role(&users, bob).await.unwrap().as_deref(), Some("user"));
    assert_eq!(store.user_role(&users, nopass).await.unwrap().as_deref(), Some("user"));
    assert_eq!(store.user_role(&users, norole).await.unwrap().as_deref(), Some(""));
    assert_eq!(store.user_role(&users, 999_999).await.unwrap(), None);

    // A deleted user has no role any more: their tokens stop working.
    assert!(store.delete_row(&users, bob, None).await.unwrap());
    assert_eq!(store.user_role(&users, bob).await.unwrap(), None);
    assert_eq!(store.credentials(&users, "username", "bob").await.unwrap(), None);
    store.close().await;
}
