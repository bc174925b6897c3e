//! Restart-time settings: every flag has a `TESSERA_*` environment variable (listed here,
//! in one place), and `DATABASE_URL` / `PORT` are honoured as platforms set them.

use clap::Args;
use std::path::PathBuf;
use tessera_core::auth::AuthConfig;
use tessera_files::storage::S3Config;
use tessera_files::StorageConfig;
use tessera_store::StoreConfig;

/// Where the data lives (shared by every subcommand).
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Postgres URL (`postgres://user@host:5432/db`); without it tessera uses SQLite.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Directory of the embedded SQLite store.
    #[arg(long, env = "TESSERA_DATA_DIR", default_value = "./tessera_data", global = true)]
    pub data_dir: PathBuf,
    /// SQLite reader connections (bounded memory: each has a 4 MiB page cache).
    #[arg(long, env = "TESSERA_SQLITE_READERS", default_value_t = 4, global = true)]
    pub sqlite_readers: usize,
    /// Postgres connection pool size.
    #[arg(long, env = "TESSERA_PG_POOL_SIZE", default_value_t = 16, global = true)]
    pub pg_pool_size: usize,
}

impl StoreArgs {
    pub fn store_config(&self) -> StoreConfig {
        match &self.database_url {
            Some(url) if !url.is_empty() => StoreConfig::Postgres { url: url.clone(), pool_size: self.pg_pool_size },
            _ => StoreConfig::Sqlite { path: self.data_dir.join("tessera.db"), readers: self.sqlite_readers },
        }
    }
}

/// Settings of `tessera serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on. `PORT` (set by many platforms) overrides the port.
    #[arg(long, env = "TESSERA_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: String,
    /// Port only (platform convention); overrides the port of `--addr`.
    #[arg(long, env = "PORT")]
    pub port: Option<u16>,
    /// Largest accepted request body in bytes (larger: 413).
    #[arg(long, env = "TESSERA_MAX_BODY_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Origins allowed to call the API from browsers, comma-separated (`*`: any).
    /// Default: none (no cross-origin access).
    #[arg(long, env = "TESSERA_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Largest multipart (file upload) request in bytes; larger: 413 while streaming.
    #[arg(long, env = "TESSERA_MAX_UPLOAD_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub max_upload_bytes: u64,
    /// Turn off GraphQL introspection (`__schema`, `__type`; the IDE needs it).
    #[arg(long, env = "TESSERA_GRAPHQL_NO_INTROSPECTION")]
    pub graphql_no_introspection: bool,
    /// Deepest GraphQL query accepted.
    #[arg(long, env = "TESSERA_GRAPHQL_MAX_DEPTH", default_value_t = 16)]
    pub graphql_max_depth: usize,
    /// Most fields one GraphQL query may select.
    #[arg(long, env = "TESSERA_GRAPHQL_MAX_COMPLEXITY", default_value_t = 1000)]
    pub graphql_max_complexity: usize,
    /// Most rows one GraphQL query may return (list limits multiplied through nesting).
    #[arg(long, env = "TESSERA_GRAPHQL_MAX_NODES", default_value_t = 100_000)]
    pub graphql_max_nodes: u64,
}

/// Where uploaded files live (shared by every subcommand: deletes clean up files).
/// A local directory by default; an S3-compatible bucket when `--s3-bucket` is set
/// (needed when several copies of tessera serve one Postgres).
#[derive(Debug, Clone, Args)]
pub struct FilesArgs {
    /// Directory of uploaded files. Default: `files/` in the data directory.
    #[arg(long, env = "TESSERA_FILES_DIR", global = true)]
    pub files_dir: Option<PathBuf>,
    /// S3 bucket for uploaded files (instead of the local directory).
    #[arg(long, env = "TESSERA_S3_BUCKET", global = true)]
    pub s3_bucket: Option<String>,
    /// Key prefix inside the bucket.
    #[arg(long, env = "TESSERA_S3_PREFIX", global = true)]
    pub s3_prefix: Option<String>,
    /// Endpoint of an S3-compatible service (MinIO, R2, ...); default: AWS.
    #[arg(long, env = "TESSERA_S3_ENDPOINT", global = true)]
    pub s3_endpoint: Option<String>,
    /// Region of the bucket.
    #[arg(long, env = "TESSERA_S3_REGION", global = true)]
    pub s3_region: Option<String>,
    /// Access key id (default: the usual AWS environment and instance credentials).
    #[arg(long, env = "TESSERA_S3_ACCESS_KEY_ID", global = true)]
    pub s3_access_key_id: Option<String>,
    /// Secret access key.
    #[arg(long, env = "TESSERA_S3_SECRET_ACCESS_KEY", hide_env_values = true, global = true)]
    pub s3_secret_access_key: Option<String>,
    /// Path-style URLs (`endpoint/bucket/key`), which most self-hosted services need.
    #[arg(long, env = "TESSERA_S3_PATH_STYLE", global = true)]
    pub s3_path_style: bool,
}

impl FilesArgs {
    pub fn storage_config(&self, data_dir: &std::path::Path) -> StorageConfig {
        match &self.s3_bucket {
            Some(bucket) if !bucket.is_empty() => StorageConfig::S3(S3Config {
                bucket: bucket.clone(),
                prefix: self.s3_prefix.clone(),
                endpoint: self.s3_endpoint.clone(),
                region: self.s3_region.clone(),
                access_key_id: self.s3_access_key_id.clone(),
                secret_access_key: self.s3_secret_access_key.clone(),
                path_style: self.s3_path_style,
            }),
            _ => StorageConfig::Local { dir: self.files_dir.clone().unwrap_or_else(|| data_dir.join("files")) },
        }
    }
}

/// Auth settings (shared by every subcommand: the CLI creates admins too).
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// Secret that signs access tokens. Default: one generated at first start and kept
    /// in the store, so every copy of tessera on the store shares it.
    #[arg(long, env = "TESSERA_JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<String>,
    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "TESSERA_ACCESS_TOKEN_TTL", default_value_t = 900, global = true)]
    pub access_token_ttl: i64,
    /// Lifetime of refresh tokens, in seconds (default 30 days).
    #[arg(long, env = "TESSERA_REFRESH_TOKEN_TTL", default_value_t = 30 * 24 * 3600, global = true)]
    pub refresh_token_ttl: i64,
    /// Login attempts per minute for one account.
    #[arg(long, env = "TESSERA_LOGIN_ATTEMPTS_PER_ACCOUNT", default_value_t = 10, global = true)]
    pub login_attempts_per_account: usize,
    /// Login attempts per minute from one client address.
    #[arg(long, env = "TESSERA_LOGIN_ATTEMPTS_PER_ADDRESS", default_value_t = 100, global = true)]
    pub login_attempts_per_address: usize,
    /// Email of an admin to create at start-up if the store has no admin yet.
    #[arg(long, env = "TESSERA_ADMIN_EMAIL", global = true)]
    pub admin_email: Option<String>,
    /// Password of that admin.
    #[arg(long, env = "TESSERA_ADMIN_PASSWORD", hide_env_values = true, global = true)]
    pub admin_password: Option<String>,
}

impl AuthArgs {
    pub fn auth_config(&self) -> anyhow::Result<AuthConfig> {
        if self.access_token_ttl < 1 || self.refresh_token_ttl < 1 {
            anyhow::bail!("token lifetimes must be at least 1 second");
        }
        if self.jwt_secret.as_ref().is_some_and(|secret| secret.len() < 32) {
            anyhow::bail!("--jwt-secret (TESSERA_JWT_SECRET) must be at least 32 characters");
        }
        let bootstrap_admin = match (&self.admin_email, &self.admin_password) {
            (Some(email), Some(password)) => Some((email.clone(), password.clone())),
            (None, None) => None,
            _ => anyhow::bail!("set both TESSERA_ADMIN_EMAIL and TESSERA_ADMIN_PASSWORD, or neither"),
        };
        Ok(AuthConfig {
            jwt_secret: self.jwt_secret.clone(),
            access_ttl_seconds: self.access_token_ttl,
            refresh_ttl_seconds: self.refresh_token_ttl,
            login_attempts_per_account: self.login_attempts_per_account,
            login_attempts_per_address: self.login_attempts_per_address,
            bootstrap_admin,
        })
    }
}

impl ServeArgs {
    pub fn listen_addr(&self) -> String {
        match self.port {
            Some(port) => {
                let host = self.addr.rsplit_once(':').map_or(self.addr.as_str(), |(host, _)| host);
                format!("{host}:{port}")
            }
            None => self.addr.clone(),
        }
    }
}
