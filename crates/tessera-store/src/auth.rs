//! The store side of authentication: instance settings (such as the signing key), refresh
//! tokens (rotated in families), API tokens, and the two reads of the users table the auth
//! service needs.
//!
//! Times are unix seconds passed in by the caller; the store never reads the clock. On
//! SQLite, reads run on the reader threads and writes on the writer (group commit, durable
//! when answered); on Postgres, every statement is prepared once per pooled connection.

use crate::auth_queries::{self as q, Sql};
use crate::error::{classify_postgres, classify_sqlite};
use crate::{Store, StoreError};
use rusqlite::OptionalExtension;
use serde::Serialize;
use tessera_schema::TableSchema;

/// One refresh token. Rotation marks a token used and issues its successor in the same
/// family; presenting a used token again revokes the whole family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub id: i64,
    pub user_id: i64,
    /// The id of the first token of the family.
    pub family_id: i64,
    pub secret_hash: String,
    pub expires_at: i64,
    pub created_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// One API token. Serializes without its secret hash (safe to return from a list).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiTokenRecord {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    /// What the token may do, as the auth service stored it (JSON).
    pub scopes: serde_json::Value,
    #[serde(skip_serializing)]
    pub secret_hash: String,
    /// `None`: never expires.
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// What a sign-in checks: a user's id, password hash and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub id: i64,
    pub password_hash: String,
    pub role: String,
}

impl Store {
    /// The stored value of `key`, inserting `value_if_absent` first if there is none.
    /// Race-safe across many processes on one database (Postgres: `INSERT .. ON CONFLICT DO
    /// NOTHING` then `SELECT`; SQLite: `INSERT OR IGNORE` then `SELECT` on the writer), so
    /// two copies starting at once agree on one value.
    pub async fn setting_or_insert(&self, key: &str, value_if_absent: &str) -> Result<String, StoreError> {
        match self {
            Store::Sqlite(store) => {
                let (key, value) = (key.to_string(), value_if_absent.to_string());
                store
                    .write(move |conn| {
                        conn.prepare_cached(q::SETTING_INSERT.sqlite)?.execute(rusqlite::params![key, value])?;
                        Ok(conn.prepare_cached(q::SETTING_SELECT.sqlite)?.query_row([&key], |row| row.get(0))?)
                    })
                    .await
            }
            Store::Postgres(store) => {
                let client = store.conn().await?;
                // Two statements, not one: the SELECT needs a snapshot taken after the
                // INSERT waited for (and lost to) a concurrent insert of the same key.
                let insert = client.prepare_cached(q::SETTING_INSERT.postgres).await?;
                client.execute(&insert, &[&key, &value_if_absent]).await?;
                let select = client.prepare_cached(q::SETTING_SELECT.postgres).await?;
                Ok(client.query_one(&select, &[&key]).await?.try_get(0)?)
            }
        }
    }

    /// The stored value of `key`, if any.
    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self {
            Store::Sqlite(store) => {
                let key = key.to_string();
                store
                    .read(move |conn| {
                        Ok(conn
                            .prepare_cached(q::SETTING_SELECT.sqlite)?
                            .query_row([&key], |row| row.get(0))
                            .optional()?)
                    })
                    .await
            }
            Store::Postgres(store) => {
                let client = store.conn().await?;
                let select = client.prepare_cached(q::SETTING_SELECT.postgres).await?;
                Ok(client.query_opt(&select, &[&key]).await?.map(|row| row.try_get(0)).transpose()?)
            }
        }
    }

    /// A new refresh token; returns its id. `family_id: None` starts a new family whose id
    /// is the new token's id.
    pub async fn insert_refresh_token(
        &self,
        user_id: i64,
        family_id: Option<i64>,
        secret_hash: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<i64, StoreError> {
        match self {
            Store::Sqlite(store) => {
                let secret_hash = secret_hash.to_string();
                store
                    .write(move |conn| {
                        // A new family: a placeholder, replaced by the new id before commit.
                        conn.prepare_cached(q::REFRESH_INSERT_SQLITE)?.execute(rusqlite::params![
                            user_id,
                            family_id.unwrap_or(0),
                            secret_hash,
                            expires_at,
                            now
                        ])?;
                        let id = conn.last_insert_rowid();
                        if family_id.is_none() {
                            conn.prepare_cached(q::REFRESH_OWN_FAMILY_SQLITE)?.execute([id])?;
                        }
                        Ok(id)
                    })
                    .await
            }
            Store::Postgres(store) => {
                let client = store.conn().await?;
                let insert = client.prepare_cached(q::REFRESH_INSERT_PG).await?;
                let row = client.query_one(&insert, &[&user_id, &family_id, &secret_hash, &expires_at, &now]).await?;
                Ok(row.try_get(0)?)
            }
        }
    }

    /// One refresh token by id, whatever its state.
    pub async fn refresh_token(&self, id: i64) -> Result<Option<RefreshTokenRecord>, StoreError> {
        match self {
            Store::Sqlite(store) => {
                store
                    .read(move |conn| {
                        Ok(conn
                            .prepare_cached(q::REFRESH_SELECT.sqlite)?
                            .query_row([id], |row| {
                                Ok(RefreshTokenRecord {
                                    id: row.get(0)?,
                                    user_id: row.get(1)?,
                                    family_id: row.get(2)?,
                                    secret_hash: row.get(3)?,
                                    expires_at: row.get(4)?,
                                    created_at: row.get(5)?,
                                    used_at: row.get(6)?,
                                    revoked_at: row.get(7)?,
                                })
                            })
                            .optional()?)
                    })
                    .await
            }
            Store::Postgres(store) => {
                let client = store.conn().await?;
                let select = client.prepare_cached(q::REFRESH_SELECT.postgres).await?;
                let Some(row) = client.query_opt(&select, &[&id]).await? else {
                    return Ok(None);
                };
                Ok(Some(RefreshTokenRecord {
                    id: row.try_get(0)?,
                    user_id: row.try_get(1)?,
                    family_id: row.try_get(2)?,
                    secret_hash: row.try_get(3)?,
                    expires_at: row.try_get(4)?,
                    created_at: row.try_get(5)?,
                    used_at: row.try_get(6)?,
                    revoked_at: row.try_get(7)?,
                }))
            }
        }
    }

    /// In ONE transaction: marks token `old_id` used (only if it is neither used nor
    /// revoked) and inserts its successor, for the same user in the same family; returns
    /// the successor's id. `None` if `old_id` was already used, revoked or missing (a
    /// concurrent rotation won): nothing is inserted then.
    pub async fn rotate_refresh_token(
        &self,
        old_id: i64,
        new_secret_hash: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        match self {
            Store::Sqlite(store) => {
                let secret_hash = new_secret_hash.to_string();
                // One write job: its statements commit together or not at all.
                store
                    .write(move |conn| {
                        let old: Option<(i64, i64)> = conn
                            .prepare_cached(q::REFRESH_MARK_USED_SQLITE)?
                            .query_row([now, old_id], |row| Ok((row.get(0)?, row.get(1)?)))
                            .optional()?;
                        let Some((user_id, family_id)) = old else {
                            return Ok(None);
                        };
                        conn.prepare_cached(q::REFRESH_INSERT_SQLITE)?.execute(rusqlite::params![
                            user_id,
                            family_id,
                            secret_hash,
                            expires_at,
                            now
                        ])?;
                        Ok(Some(conn.last_insert_rowid()))
                    })
                    .await
            }
            Store::Postgres(store) => {
                let client = store.conn().await?;
                // One statement, hence one transaction (see the query).
                let rotate = client.prepare_cached(q::REFRESH_ROTATE_PG).await?;
                let row = client.query_opt(&rotate, &[&now, &old_id, &new_secret_hash, &expires_at]).await?;
                Ok(row.map(|row| row.try_get(0)).transpose()?)
            }
        }
    }

    /// Revokes every not yet revoked token of a family; returns how many.
    pub async fn revoke_refresh_family(&self, family_id: i64, now: i64) -> Result<u64, StoreError> {
        self.auth_execute(q::REFRESH_REVOKE_FAMILY, now, family_id).await
    }

    /// Deletes every refresh and API token of a user (the user was deleted).
    pub async fn delete_user_tokens(&self, user_id: i64) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => {
                store
                    .write(move |conn| {
                        conn.prepare_cached(q::REFRESH_DELETE_USER_SQLITE)?.execute([user_id])?;
                        conn.prepare_cached(q::API_DELETE_USER_SQLITE)?.execute([user_id])?;
                        Ok(())
                    })
                    .await
            }
            Store::Postgres(store) => {
                let client = store.conn().await?;
                let delete = client.prepare_cached(q::TOKENS_DELETE_USER_PG).await?;
                client.execute(&delete, &[&user_id]).await?;
                Ok(())
            }
        }
    }

    /// Revokes every not yet revoked refresh token of a user (the password changed);
    /// returns how many.
    pub async fn revoke_user_refresh_tokens(&self, user_id: i64, now: i64) -> Result<u64, StoreError> {
        self.auth_execute(q::REFRESH_REVOKE_USER, now, user_id).await
    }

    /// A new API token; returns its id. `scopes` is stored as JSON text; `expires_at:
    /// None` never expires.
    pub async fn insert_api_token(
        &self,
        user_id: i64,
        name: &str,
        scopes: &serde_json::Value,
        secret_hash: &str,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<i64, StoreError> {
        let scopes = scopes.to_string();
        match self {
            Store::Sqlite(store) => {
                let (name, secret_hash) = (name.to_string(), secret_hash.to_string());
                store
                    .write(move |conn| {
                        Ok(conn.prepare_cached(q::API_INSERT.sqlite)?.query_row(
                            rusqlite::params![user_id, name, scopes, secret_hash, expires_at, now],
                            |row| row.get(0),
                        )?)
                    })
                    .await
            }
            Store::Postgres(store) => {
                let client = store.conn().await?;
                let insert = client.prepare_cached(q::API_INSERT.postgres).await?;
                let row =
                    client.query_one(&insert, &[&user_id, &name, &scopes, &secret_hash, &expires_at, &now]).await?;
                Ok(row.try_get(0)?)
            }
        }
    }

    /// One API token by id, whatever its state.
    pub async fn api_token(&self, id: i64) -> Result<Option<ApiTokenRecord>, StoreError> {
        Ok(self.api_tokens(q::API_SELECT, Some(id)).await?.pop())
    }

    /// The API tokens of one user (or of everyone when `None`), newest first (by
    /// `created_at`, then id), revoked and expired ones included.
    pub async fn list_api_tokens(&self, user_id: Option<i64>) -> Result<Vec<ApiTokenRecord>, StoreError> {
        match user_id {
            Some(user_id) => self.api_tokens(q::API_LIST_USER, Some(user_id)).await,
            None => self.api_tokens(q::API_LIST_ALL, None).await,
        }
    }

    /// Revokes an API token (only if it belongs to that user, when `user_id` is `Some`);
    /// false if there is no such unrevoked token.
    pub async fn revoke_api_token(&self, id: i64, user_id: Option<i64>, now: i64) -> Result<bool, StoreError> {
        let changed = match (self, user_id) {
            (Store::Sqlite(store), Some(user_id)) => {
                store
                    .write(move |conn| {
                        Ok(conn.prepare_cached(q::API_REVOKE_OF_USER.sqlite)?.execute([now, id, user_id])? as u64)
                    })
                    .await?
            }
            (Store::Postgres(store), Some(user_id)) => {
                let client = store.conn().await?;
                let revoke = client.prepare_cached(q::API_REVOKE_OF_USER.postgres).await?;
                client.execute(&revoke, &[&now, &id, &user_id]).await?
            }
            (_, None) => self.auth_execute(q::API_REVOKE, now, id).await?,
        };
        Ok(changed > 0)
    }

    /// The id, password hash and role of the user whose `column` equals `value`, read from
    /// the users table described by `users` (a catalog table with text fields `email`,
    /// `username`, `password` and `role`). Values compare exactly (the caller normalizes,
    /// e.g. lowercases emails). A user without a password has no credentials (`None`); a
    /// missing role reads as the empty string.
    ///
    /// `column` must be `"email"` or `"username"`; anything else is a programming error and
    /// fails with [`StoreError::Corrupt`], as does a users table lacking one of the fields.
    /// A table changed meanwhile fails with [`StoreError::Stale`].
    pub async fn credentials(
        &self,
        users: &TableSchema,
        column: &str,
        value: &str,
    ) -> Result<Option<Credentials>, StoreError> {
        let sql = q::credentials(self.dialect(), users, column)?;
        let found: Option<(i64, Option<String>, Option<String>)> = match self {
            Store::Sqlite(store) => {
                let value = value.to_string();
                store
                    .read(move |conn| {
                        Ok(conn
                            .prepare_cached(&sql)
                            .map_err(classify_sqlite)?
                            .query_row([&value], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                            .optional()?)
                    })
                    .await?
            }
            Store::Postgres(store) => {
                let client = store.conn().await?;
                let select = client.prepare_cached(&sql).await.map_err(classify_postgres)?;
                match client.query_opt(&select, &[&value]).await.map_err(classify_postgres)? {
                    Some(row) => Some((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)),
                    None => None,
                }
            }
        };
        Ok(found.and_then(|(id, password_hash, role)| {
            Some(Credentials { id, password_hash: password_hash?, role: role.unwrap_or_default() })
        }))
    }

    /// The role of a user by id (the empty string if the user has none); `None` if the
    /// user does not exist, so tokens of deleted users stop working. Fails like
    /// [`Store::credentials`] when the table lacks a `role` field or changed meanwhile.
    pub async fn user_role(&self, users: &TableSchema, id: i64) -> Result<Option<String>, StoreError> {
        let sql = q::user_role(self.dialect(), users)?;
        let found: Option<Option<String>> = match self {
            Store::Sqlite(store) => {
                store
                    .read(move |conn| {
                        Ok(conn
                            .prepare_cached(&sql)
                            .map_err(classify_sqlite)?
                            .query_row([id], |row| row.get(0))
                            .optional()?)
                    })
                    .await?
            }
            Store::Postgres(store) => {
                let client = store.conn().await?;
                let select = client.prepare_cached(&sql).await.map_err(classify_postgres)?;
                client
                    .query_opt(&select, &[&id])
                    .await
                    .map_err(classify_postgres)?
                    .map(|row| row.try_get(0))
                    .transpose()?
            }
        };
        Ok(found.map(Option::unwrap_or_default))
    }

    /// Runs one of the auth writes taking `(now, id)`; returns how many rows changed.
    async fn auth_execute(&self, sql: Sql, now: i64, id: i64) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(store) => {
                store.write(move |conn| Ok(conn.prepare_cached(sql.sqlite)?.execute([now, id])? as u64)).await
            }
            Store::Postgres(store) => {
                let client = store.conn().await?;
                let stmt = client.prepare_cached(sql.postgres).await?;
                Ok(client.execute(&stmt, &[&now, &id]).await?)
            }
        }
    }

    /// Runs an API-token select taking no parameter or one id.
    async fn api_tokens(&self, sql: Sql, id: Option<i64>) -> Result<Vec<ApiTokenRecord>, StoreError> {
        match self {
            Store::Sqlite(store) => {
                store
                    .read(move |conn| {
                        let mut stmt = conn.prepare_cached(sql.sqlite)?;
                        let params: Vec<i64> = id.into_iter().collect();
                        let rows = stmt.query_map(rusqlite::params_from_iter(params), |row| {
                            Ok((
                                row.get(0)?,
                                row.get(1)?,
                                row.get(2)?,
                                row.get::<_, String>(3)?,
                                row.get(4)?,
                                row.get(5)?,
                                row.get(6)?,
                                row.get(7)?,
                            ))
                        })?;
                        rows.map(|row| {
                            let (id, user_id, name, scopes, secret_hash, expires_at, created_at, revoked_at) = row?;
                            Ok(ApiTokenRecord {
                                id,
                                user_id,
                                name,
                                scopes: parse_scopes(&scopes)?,
                                secret_hash,
                                expires_at,
                                created_at,
                                revoked_at,
                            })
                        })
                        .collect()
                    })
                    .await
            }
            Store::Postgres(store) => {
                let client = store.conn().await?;
                let stmt = client.prepare_cached(sql.postgres).await?;
                let rows = match &id {
                    Some(id) => client.query(&stmt, &[id]).await?,
                    None => client.query(&stmt, &[]).await?,
                };
                rows.iter()
                    .map(|row| {
                        Ok(ApiTokenRecord {
                            id: row.try_get(0)?,
                            user_id: row.try_get(1)?,
                            name: row.try_get(2)?,
                            scopes: parse_scopes(row.try_get(3)?)?,
                            secret_hash: row.try_get(4)?,
                            expires_at: row.try_get(5)?,
                            created_at: row.try_get(6)?,
                            revoked_at: row.try_get(7)?,
                        })
                    })
                    .collect()
            }
        }
    }
}

fn parse_scopes(text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("stored API token scopes: {e}")))
}
