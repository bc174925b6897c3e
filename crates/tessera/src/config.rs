//! Restart-time settings: every flag has a `TESSERA_*` environment variable (listed here,
//! in one place), and `DATABASE_URL` / `PORT` are honoured as platforms set them.

use clap::Args;
use std::path::PathBuf;
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
