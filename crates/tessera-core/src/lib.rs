//! tessera's services: what a request calls, independent of HTTP. The live catalog is one
//! immutable snapshot swapped atomically after each schema change, so a request that
//! started on one version of a table finishes on it.

pub mod catalog;
mod cursor;
mod error;
pub mod rows;
pub mod tables;

pub use catalog::{Catalog, Table};
pub use error::CoreError;
pub use rows::{ListParams, ListResult, WriteResult};

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
}

impl App {
    /// Loads the catalog from the store.
    pub async fn new(store: Store) -> Result<App, CoreError> {
        let tables = store.load_tables().await?;
        Ok(App { inner: Arc::new(AppInner { store, catalog: ArcSwap::from_pointee(Catalog::new(tables)) }) })
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
