//! SQL of the auth store: settings, refresh tokens, API tokens, and the two reads of the
//! users table. Fixed statements are written out once per dialect (`?` placeholders for
//! SQLite, typed `$n` for Postgres); every value is a bound parameter.

use crate::error::StoreError;
use tessera_query::{quote_ident, Dialect};
use tessera_schema::TableSchema;

/// One statement in both dialects.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sql {
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// Inserts a setting unless the key exists. Params: key, value.
pub(crate) const SETTING_INSERT: Sql = Sql {
    sqlite: "INSERT OR IGNORE INTO _tessera_settings (key, value) VALUES (?, ?)",
    postgres: "INSERT INTO _tessera_settings (key, value) VALUES ($1::text, $2::text) ON CONFLICT (key) DO NOTHING",
};

/// The value of a setting. Params: key.
pub(crate) const SETTING_SELECT: Sql = Sql {
    sqlite: "SELECT value FROM _tessera_settings WHERE key = ?",
    postgres: "SELECT value FROM _tessera_settings WHERE key = $1::text",
};

/// A new refresh token in a given family (a new family: any placeholder, then
/// [`REFRESH_OWN_FAMILY_SQLITE`] in the same transaction). Params: user_id, family_id,
/// secret_hash, expires_at, created_at. SQLite only: Postgres uses [`REFRESH_INSERT_PG`].
pub(crate) const REFRESH_INSERT_SQLITE: &str = "INSERT INTO _tessera_refresh_tokens \
     (user_id, family_id, secret_hash, expires_at, created_at) VALUES (?, ?, ?, ?, ?)";

/// Starts a new family on SQLite: the token just inserted is its own family. Params: id.
pub(crate) const REFRESH_OWN_FAMILY_SQLITE: &str = "UPDATE _tessera_refresh_tokens SET family_id = id WHERE id = ?";

/// A new refresh token in one statement: the id is drawn first, so a missing family id
/// (NULL) can default to it. Params: user_id, family_id (NULL: new family), secret_hash,
/// expires_at, created_at.
pub(crate) const REFRESH_INSERT_PG: &str =
    "WITH next AS (SELECT nextval(pg_get_serial_sequence('_tessera_refresh_tokens', 'id')) AS id) \
     INSERT INTO _tessera_refresh_tokens (id, user_id, family_id, secret_hash, expires_at, created_at) \
     SELECT next.id, $1::int8, COALESCE($2::int8, next.id), $3::text, $4::int8, $5::int8 FROM next RETURNING id";

/// One refresh token. Params: id.
pub(crate) const REFRESH_SELECT: Sql = Sql {
    sqlite: "SELECT id, user_id, family_id, secret_hash, expires_at, created_at, used_at, revoked_at \
             FROM _tessera_refresh_tokens WHERE id = ?",
    postgres: "SELECT id, user_id, family_id, secret_hash, expires_at, created_at, used_at, revoked_at \
               FROM _tessera_refresh_tokens WHERE id = $1::int8",
};

/// Marks a live token used; returns its user and family, or no row if it was already used,
/// revoked or missing. SQLite only (Postgres does the whole rotation in
/// [`REFRESH_ROTATE_PG`]). Params: now, id.
pub(crate) const REFRESH_MARK_USED_SQLITE: &str = "UPDATE _tessera_refresh_tokens SET used_at = ? \
     WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL RETURNING user_id, family_id";

/// Rotation in one statement (so one transaction): marks the old token used if it is live
/// and inserts its successor from the marked row; a concurrent rotation of the same token
/// waits on the row lock, then finds it used and inserts nothing. Params: now, old id,
/// new secret_hash, expires_at.
pub(crate) const REFRESH_ROTATE_PG: &str = "WITH old AS (\
     UPDATE _tessera_refresh_tokens SET used_at = $1::int8 \
     WHERE id = $2::int8 AND used_at IS NULL AND revoked_at IS NULL RETURNING user_id, family_id) \
     INSERT INTO _tessera_refresh_tokens (user_id, family_id, secret_hash, expires_at, created_at) \
     SELECT user_id, family_id, $3::text, $4::int8, $1::int8 FROM old RETURNING id";

/// Revokes the live tokens of a family. Params: now, family_id.
pub(crate) const REFRESH_REVOKE_FAMILY: Sql = Sql {
    sqlite: "UPDATE _tessera_refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
    postgres:
        "UPDATE _tessera_refresh_tokens SET revoked_at = $1::int8 WHERE family_id = $2::int8 AND revoked_at IS NULL",
};

/// Revokes the live tokens of a user. Params: now, user_id.
pub(crate) const REFRESH_REVOKE_USER: Sql = Sql {
    sqlite: "UPDATE _tessera_refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
    postgres:
        "UPDATE _tessera_refresh_tokens SET revoked_at = $1::int8 WHERE user_id = $2::int8 AND revoked_at IS NULL",
};

/// Deletes the refresh tokens of a user. SQLite only. Params: user_id.
pub(crate) const REFRESH_DELETE_USER_SQLITE: &str = "DELETE FROM _tessera_refresh_tokens WHERE user_id = ?";

/// Deletes the API tokens of a user. SQLite only. Params: user_id.
pub(crate) const API_DELETE_USER_SQLITE: &str = "DELETE FROM _tessera_api_tokens WHERE user_id = ?";

/// Deletes every token of a user in one statement. Params: user_id.
pub(crate) const TOKENS_DELETE_USER_PG: &str =
    "WITH api AS (DELETE FROM _tessera_api_tokens WHERE user_id = $1::int8) \
     DELETE FROM _tessera_refresh_tokens WHERE user_id = $1::int8";

/// A new API token. Params: user_id, name, scopes (JSON text), secret_hash, expires_at,
/// created_at.
pub(crate) const API_INSERT: Sql = Sql {
    sqlite: "INSERT INTO _tessera_api_tokens (user_id, name, scopes, secret_hash, expires_at, created_at) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
    postgres: "INSERT INTO _tessera_api_tokens (user_id, name, scopes, secret_hash, expires_at, created_at) \
               VALUES ($1::int8, $2::text, $3::text, $4::text, $5::int8, $6::int8) RETURNING id",
};

/// One API token. Params: id.
pub(crate) const API_SELECT: Sql = Sql {
    sqlite: "SELECT id, user_id, name, scopes, secret_hash, expires_at, created_at, revoked_at \
             FROM _tessera_api_tokens WHERE id = ?",
    postgres: "SELECT id, user_id, name, scopes, secret_hash, expires_at, created_at, revoked_at \
               FROM _tessera_api_tokens WHERE id = $1::int8",
};

/// Every API token, newest first. No params.
pub(crate) const API_LIST_ALL: Sql = Sql {
    sqlite: "SELECT id, user_id, name, scopes, secret_hash, expires_at, created_at, revoked_at \
             FROM _tessera_api_tokens ORDER BY created_at DESC, id DESC",
    postgres: "SELECT id, user_id, name, scopes, secret_hash, expires_at, created_at, revoked_at \
               FROM _tessera_api_tokens ORDER BY created_at DESC, id DESC",
};

/// The API tokens of a user, newest first. Params: user_id.
pub(crate) const API_LIST_USER: Sql = Sql {
    sqlite: "SELECT id, user_id, name, scopes, secret_hash, expires_at, created_at, revoked_at \
             FROM _tessera_api_tokens WHERE user_id = ? ORDER BY created_at DESC, id DESC",
    postgres: "SELECT id, user_id, name, scopes, secret_hash, expires_at, created_at, revoked_at \
               FROM _tessera_api_tokens WHERE user_id = $1::int8 ORDER BY created_at DESC, id DESC",
};

/// Revokes a live API token. Params: now, id.
pub(crate) const API_REVOKE: Sql = Sql {
    sqlite: "UPDATE _tessera_api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
    postgres: "UPDATE _tessera_api_tokens SET revoked_at = $1::int8 WHERE id = $2::int8 AND revoked_at IS NULL",
};

/// Revokes a live API token of one user. Params: now, id, user_id.
pub(crate) const API_REVOKE_OF_USER: Sql = Sql {
    sqlite: "UPDATE _tessera_api_tokens SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
    postgres: "UPDATE _tessera_api_tokens SET revoked_at = $1::int8 \
               WHERE id = $2::int8 AND user_id = $3::int8 AND revoked_at IS NULL",
};

/// The name a users-table field has in the schema (matched case-insensitively, as SQL
/// names are), or `Corrupt` if the table has no such field.
fn users_column<'a>(users: &'a TableSchema, name: &str) -> Result<&'a str, StoreError> {
    users
        .field(name)
        .map(|(field_name, _)| field_name)
        .ok_or_else(|| StoreError::Corrupt(format!("users table '{}' has no field '{name}'", users.name)))
}

/// A text column read as text (a no-op cast on Postgres that fixes the wire type).
fn text_column(dialect: Dialect, column: &str) -> String {
    match dialect {
        Dialect::Sqlite => quote_ident(column),
        Dialect::Postgres => format!("{}::text", quote_ident(column)),
    }
}

/// `SELECT id, password, role FROM <users> WHERE <column> = ?`, for `column` "email" or
/// "username". Params: the value. Anything else is a programming error: `Corrupt`.
pub(crate) fn credentials(dialect: Dialect, users: &TableSchema, column: &str) -> Result<String, StoreError> {
    if column != "email" && column != "username" {
        return Err(StoreError::Corrupt(format!("credentials looked up by '{column}' (only email or username)")));
    }
    let key = users_column(users, column)?;
    let password = users_column(users, "password")?;
    let role = users_column(users, "role")?;
    let placeholder = match dialect {
        Dialect::Sqlite => "?",
        Dialect::Postgres => "$1::text",
    };
    Ok(format!(
        "SELECT \"id\", {}, {} FROM {} WHERE {} = {placeholder}",
        text_column(dialect, password),
        text_column(dialect, role),
        quote_ident(&users.name),
        quote_ident(key),
    ))
}

/// `SELECT role FROM <users> WHERE id = ?`. Params: the id.
pub(crate) fn user_role(dialect: Dialect, users: &TableSchema) -> Result<String, StoreError> {
    let role = users_column(users, "role")?;
    let placeholder = match dialect {
        Dialect::Sqlite => "?",
        Dialect::Postgres => "$1::int8",
    };
    Ok(format!("SELECT {} FROM {} WHERE \"id\" = {placeholder}", text_column(dialect, role), quote_ident(&users.name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tessera_schema::parse_fields;

    fn users() -> TableSchema {
        let fields =
            parse_fields(&json!({"Email": "email", "username": "string", "password": "string", "role": "string"}))
                .unwrap();
        TableSchema::new(3, "users", 1, fields)
    }

    #[test]
    fn credentials_sql_quotes_the_schema_names() {
        assert_eq!(
            credentials(Dialect::Sqlite, &users(), "email").unwrap(),
            "SELECT \"id\", \"password\", \"role\" FROM \"users\" WHERE \"Email\" = ?"
        );
        assert_eq!(
            credentials(Dialect::Postgres, &users(), "username").unwrap(),
            "SELECT \"id\", \"password\"::text, \"role\"::text FROM \"users\" WHERE \"username\" = $1::text"
        );
        assert_eq!(
            user_role(Dialect::Postgres, &users()).unwrap(),
            "SELECT \"role\"::text FROM \"users\" WHERE \"id\" = $1::int8"
        );
    }

    #[test]
    fn credentials_refuse_other_columns() {
        assert!(matches!(credentials(Dialect::Sqlite, &users(), "password"), Err(StoreError::Corrupt(_))));
        assert!(matches!(credentials(Dialect::Sqlite, &users(), "id"), Err(StoreError::Corrupt(_))));
        let mut no_role = users();
        no_role.fields.shift_remove("role");
        assert!(matches!(user_role(Dialect::Sqlite, &no_role), Err(StoreError::Corrupt(_))));
    }
}
