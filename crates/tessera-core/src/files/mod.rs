//! File fields: receiving uploads, keeping rows pointed only at their own objects,
//! serving downloads under the row's view rule, and deleting objects no row points at.
//!
//! The order of events is what keeps storage and rows consistent: uploads are stored
//! before the row is written and deleted if the write fails; objects a write drops
//! (replaced, removed from a list, cleared, row deleted, field or table dropped) are
//! deleted only after the database change commits, so a failed write never loses a file.

mod cleanup;
mod download;
mod on_delete;
pub mod refs;
mod token;
mod upload;

pub use download::StoredObject;
pub use upload::Uploads;

use crate::auth::Caller;
use crate::{App, CoreError};
use serde_json::Value as Json;
use tessera_files::FileStorage;

impl App {
    /// The configured file storage (tessera serve always has one; a bare `App` used by
    /// tools may not).
    pub fn file_storage(&self) -> Result<&FileStorage, CoreError> {
        self.inner.files.as_ref().ok_or(CoreError::FilesNotConfigured)
    }

    /// Creates one row from a form: its JSON values and the files already stored.
    pub async fn create_row_with_files(
        &self,
        body: Json,
        uploads: Uploads,
        caller: &Caller,
    ) -> Result<String, CoreError> {
        let key = uploads.table.schema.id.to_string();
        let result = self
            .retry_on_stale(|| {
                self.insert_validated(&key, std::iter::once(Ok(body.clone())), true, caller, uploads.names())
            })
            .await;
        match result {
            Ok(crate::WriteResult::One(row)) => {
                uploads.keep();
                Ok(row)
            }
            Ok(crate::WriteResult::Many { .. }) => unreachable!("a single create answers with the row"),
            Err(error) => {
                uploads.discard().await;
                Err(error)
            }
        }
    }

    /// Updates (PATCH) or replaces (PUT) one row from a form.
    pub async fn update_row_with_files(
        &self,
        id: &str,
        body: Json,
        replace: bool,
        uploads: Uploads,
        caller: &Caller,
    ) -> Result<String, CoreError> {
        let key = uploads.table.schema.id.to_string();
        let result =
            self.retry_on_stale(|| self.update_row_once(&key, id, &body, replace, caller, uploads.names())).await;
        match result {
            Ok(row) => {
                uploads.keep();
                Ok(row)
            }
            Err(error) => {
                uploads.discard().await;
                Err(error)
            }
        }
    }
}
