//! Receiving the files of one request. Each file streams to storage as it arrives, with
//! a running byte count against the field's `max_size` and its type (sniffed from the
//! first bytes) checked against `mime_types` before anything is written; a file that
//! breaks a limit is aborted on the spot. The objects exist before the row is written and
//! are deleted again unless the row write commits ([`Uploads::keep`]).

use super::refs::Uploaded;
use crate::access::precheck;
use crate::auth::Caller;
use crate::catalog::Table;
use crate::{App, CoreError};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::Value as Json;
use std::sync::Arc;
use tessera_files::sniff::{allowed, sniff, SNIFF_BYTES};
use tessera_files::storage::object_key;
use tessera_files::FileStorage;
use tessera_schema::validate::MAX_LIST_ITEMS;
use tessera_schema::{Action, FieldType};

/// The files a request has stored so far, and the table they are for.
pub struct Uploads {
    storage: FileStorage,
    pub(crate) table: Arc<Table>,
    pub(crate) stored: Vec<(String, String)>,
    /// Set once the row write decided their fate.
    settled: bool,
}

impl App {
    /// Starts receiving files for a write (`action`: create or update) on a table: the
    /// caller must be allowed the action at all before a byte is stored.
    pub fn begin_upload(&self, key: &str, action: Action, caller: &Caller) -> Result<Uploads, CoreError> {
        let table = self.table(key)?;
        precheck(&table, action, caller)?;
        Ok(Uploads { storage: self.file_storage()?.clone(), table, stored: Vec::new(), settled: false })
    }
}

impl Uploads {
    /// Streams one file of `field` (as the form named it) to storage.
    pub async fn receive<S>(
        &mut self,
        field: &str,
        client_name: &str,
        declared_type: Option<&str>,
        mut stream: S,
    ) -> Result<(), CoreError>
    where
        S: Stream<Item = Result<Bytes, CoreError>> + Unpin,
    {
        let (field, def) = match self.table.schema.field(field) {
            Some((name, def)) if def.field_type == FieldType::File && !def.hidden => (name.to_string(), def.clone()),
            _ => {
                return Err(CoreError::bad_request(
                    field,
                    format!(
                        "the form sends a file for '{}', which is not a file field of table '{}'",
                        field.chars().take(64).collect::<String>(),
                        self.table.schema.name
                    ),
                ))
            }
        };
        let count = self.stored.iter().filter(|(f, _)| *f == field).count();
        if count >= 1 && !def.multiple {
            return Err(CoreError::bad_request(&field, format!("field '{field}' takes one file, the form sends more")));
        }
        if count >= MAX_LIST_ITEMS {
            return Err(CoreError::bad_request(
                &field,
                format!("field '{field}' takes at most {MAX_LIST_ITEMS} files"),
            ));
        }
        let max = def.max_file_size();
        let too_large = || CoreError::FileTooLarge { field: field.clone(), max };
        // The first bytes decide the type before anything is written.
        let mut head: Vec<u8> = Vec::new();
        let mut ended = false;
        while head.len() < SNIFF_BYTES {
            match stream.next().await {
                Some(chunk) => head.extend_from_slice(&chunk?),
                None => {
                    ended = true;
                    break;
                }
            }
            if head.len() as u64 > max {
                return Err(too_large());
            }
        }
        let sniffed = sniff(&head[..head.len().min(SNIFF_BYTES)], ended, declared_type);
        if let Some(list) = &def.mime_types {
            if !allowed(&sniffed.mime, list) {
                return Err(CoreError::FileTypeRefused { field, detected: sniffed.mime, allowed: list.clone() });
            }
        }
        let name = tessera_files::names::stored_name(client_name, sniffed.extension.as_deref());
        let key = object_key(self.table.schema.id, &name);
        let mut upload = self.storage.upload(&key);
        let written = async {
            upload.write(&head).await?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                if upload.size() + chunk.len() as u64 > max {
                    return Err(too_large());
                }
                upload.write(&chunk).await?;
            }
            Ok::<(), CoreError>(())
        }
        .await;
        if let Err(error) = written {
            upload.abort().await;
            return Err(error);
        }
        upload.finish().await?;
        self.stored.push((field, name));
        Ok(())
    }

    /// A form's text part as the JSON value of a field (read like a CSV cell: `42` is a
    /// number for an integer field, a JSON list for a `multiple` field, empty is null).
    /// Names that are not fields stay text, for the validator to refuse.
    pub fn text_value(&self, field: &str, text: &str) -> Result<Json, CoreError> {
        let Some((name, def)) = self.table.schema.field(field) else { return Ok(Json::String(text.to_string())) };
        tessera_schema::validate::coerce_text_coded(def, text).map(|value| value.to_json()).map_err(|invalid| {
            CoreError::InvalidRow {
                errors: vec![tessera_schema::validate::FieldError {
                    field: name.to_string(),
                    code: invalid.code,
                    message: invalid.message,
                }],
                row_index: None,
            }
        })
    }

    /// The uploads as (field, stored name).
    pub(crate) fn names(&self) -> &Uploaded {
        &self.stored
    }

    /// The row write committed: the objects stay.
    pub(crate) fn keep(mut self) {
        self.settled = true;
    }

    /// The request failed: deletes every object it stored.
    pub async fn discard(mut self) {
        self.settled = true;
        let keys: Vec<String> = self.stored.iter().map(|(_, name)| object_key(self.table.schema.id, name)).collect();
        delete_keys(&self.storage, &keys).await;
    }
}

impl Drop for Uploads {
    /// A request dropped half-way (the client went away) never reaches `keep` or
    /// `discard`: its objects are deleted in the background.
    fn drop(&mut self) {
        if self.settled || self.stored.is_empty() {
            return;
        }
        let storage = self.storage.clone();
        let keys: Vec<String> = self.stored.iter().map(|(_, name)| object_key(self.table.schema.id, name)).collect();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { delete_keys(&storage, &keys).await });
        }
    }
}

async fn delete_keys(storage: &FileStorage, keys: &[String]) {
    for key in keys {
        if let Err(e) = storage.delete(key).await {
            tracing::warn!("could not delete the uploaded object {key}: {e}");
        }
    }
}
