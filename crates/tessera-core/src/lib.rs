//! tessera's services: what a request calls, independent of HTTP. The live catalog is one
//! immutable snapshot swapped atomically after each schema change, so a request that
//! started on one version of a table finishes on it.

pub mod access;
pub mod auth;
mod bulk;
mod cascade;
pub mod catalog;
mod cursor;
mod error;
pub mod expand;
pub mod fields;
pub mod files;
pub mod paths;
mod referrers;
pub mod rows;
pub mod tables;

pub use catalog::{Catalog, Table};
pub use error::CoreError;
pub use rows::{GetParams, ListParams, ListResult, WriteResult};
pub use tables::{CreateTable, ReplaceTable};

use auth::{AuthConfig, AuthState, Clock, SystemClock};

use arc_swap::ArcSwap;
use std::sync::Arc;
use tessera_store::Store;

/// The application: the store and the live catalog. Cheap to clone.
#[derive(Clone)]
pub struct App {
    inner: Arc<AppInner>,
}

struct AppInner {
    store: Store,
    catalog: ArcSwap<Catalog>,
    auth: AuthState,
    files: Option<tessera_files::FileStorage>,
}

/// Restart-time settings of the services.
pub struct AppOptions {
    pub auth: AuthConfig,
    /// The time auth decisions use (tests pass a manual clock).
    pub clock: Arc<dyn Clock>,
    /// Where uploaded files are stored (`None`: file uploads are refused).
    pub files: Option<tessera_files::FileStorage>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions { auth: AuthConfig::default(), clock: Arc::new(SystemClock), files: None }
    }
}

impl App {
    /// Loads the catalog from the store with default options.
    pub async fn new(store: Store) -> Result<App, CoreError> {
        App::with_options(store, AppOptions::default()).await
    }

    /// Loads the catalog, creates the users table on a fresh store and the first admin
    /// if configured.
    pub async fn with_options(store: Store, options: AppOptions) -> Result<App, CoreError> {
        let tables = store.load_tables().await?;
        let auth = AuthState::new(options.auth, options.clock, &store).await?;
        let catalog = ArcSwap::from_pointee(Catalog::new(tables));
        let app = App { inner: Arc::new(AppInner { store, catalog, auth, files: options.files }) };
        app.ensure_users_table().await?;
        app.bootstrap_admin().await?;
        app.follow_catalog_changes();
        Ok(app)
    }

    pub(crate) fn auth(&self) -> &AuthState {
        &self.inner.auth
    }

    /// The current time of the auth clock, in seconds since the epoch.
    pub fn now(&self) -> i64 {
        self.inner.auth.now()
    }

    /// Reloads the catalog whenever another tessera on the same database changes it, so
    /// many stateless copies behind a load balancer behave as one. Stops when the app is
    /// dropped.
    fn follow_catalog_changes(&self) {
        if self.store().dialect() == tessera_query::Dialect::Sqlite {
            return;
        }
        let (signal, mut signals) = tokio::sync::mpsc::channel::<()>(1);
        let store = self.store().clone();
        tokio::spawn(async move {
            store
                .watch_catalog(move || {
                    // A full queue already holds a pending reload: coalesce.
                    !matches!(signal.try_send(()), Err(tokio::sync::mpsc::error::TrySendError::Closed(_)))
                })
                .await;
        });
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            while signals.recv().await.is_some() {
                let Some(inner) = weak.upgrade() else { break };
                if let Err(e) = (App { inner }).reload_catalog().await {
                    tracing::warn!("cannot reload the catalog after a change elsewhere: {e}");
                }
            }
        });
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The current catalog snapshot.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.inner.catalog.load_full()
    }

    /// Re-reads the catalog from the store and swaps it in.
    pub async fn reload_catalog(&self) -> Result<(), CoreError> {
        let tables = self.inner.store.load_tables().await?;
        self.inner.catalog.store(Arc::new(Catalog::new(tables)));
        Ok(())
    }

    /// A table by name (case-insensitive) or numeric id.
    pub fn table(&self, key: &str) -> Result<Arc<Table>, CoreError> {
        self.catalog().find(key).ok_or_else(|| CoreError::TableNotFound(key.chars().take(100).collect()))
    }
}
