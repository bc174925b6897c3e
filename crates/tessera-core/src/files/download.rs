//! Finding the object a download asks for, under the row's view rule: the row must be
//! visible to the caller and its field must hold the name, so a URL can never reach
//! another row's file. Thumbnails are rendered on first request and kept in storage.

use super::refs::names_in;
use crate::auth::Caller;
use crate::{App, CoreError};
use serde_json::Value as Json;
use tessera_files::sniff::content_type_of;
use tessera_files::storage::{object_key, thumb_key};
use tessera_files::thumb::{is_thumbnailable, render, ThumbSpec, MAX_SOURCE_BYTES};
use tessera_schema::FieldType;

/// A stored object a download may stream.
#[derive(Debug, Clone)]
pub struct StoredObject {
    pub key: String,
    pub size: u64,
    pub content_type: String,
    /// The name to offer when saving it.
    pub file_name: String,
}

impl App {
    /// Authorizes a download and locates its object (a thumbnail when `thumb` names a
    /// size and the file is an image).
    pub async fn locate_file(
        &self,
        table_key: &str,
        id: &str,
        field: &str,
        name: &str,
        thumb: Option<&str>,
        caller: &Caller,
    ) -> Result<StoredObject, CoreError> {
        let table = self.table(table_key)?;
        let not_found =
            || CoreError::NotFound(format!("file '{}' not found", name.chars().take(300).collect::<String>()));
        let (column, def) = match table.schema.field(field) {
            Some((column, def)) if def.field_type == FieldType::File && !def.hidden => {
                (column.to_string(), def.clone())
            }
            _ => {
                return Err(CoreError::NotFound(format!(
                    "table '{}' has no file field '{}'",
                    table.schema.name,
                    field.chars().take(64).collect::<String>()
                )))
            }
        };
        let spec = thumb
            .filter(|t| !t.is_empty())
            .map(ThumbSpec::parse)
            .transpose()
            .map_err(|m| CoreError::bad_request("thumb", m))?;
        if def.protected && caller.user_id().is_none() && !caller.is_admin() {
            return Err(CoreError::Unauthenticated(
                "this file is protected: send a token, or a file token as ?token= (POST /api/files/token)".into(),
            ));
        }
        // The view rule, exactly as GET row applies it (401/403, or 404 for hidden rows).
        let row: Json = serde_json::from_str(&self.get_row(table_key, id, &crate::GetParams::default(), caller).await?)
            .unwrap_or_default();
        if !names_in(row.get(&column)).iter().any(|held| held == name) {
            return Err(not_found());
        }
        let storage = self.file_storage()?;
        let key = object_key(table.schema.id, name);
        let size = storage.size(&key).await?.ok_or_else(not_found)?;
        let content_type = content_type_of(name);
        let original = StoredObject { key, size, content_type, file_name: name.to_string() };
        match spec {
            Some(spec) if is_thumbnailable(&original.content_type) && original.size <= MAX_SOURCE_BYTES => {
                Ok(self.thumbnail(table.schema.id, original, spec).await)
            }
            _ => Ok(original),
        }
    }

    /// The cached thumbnail, rendered and stored on first request. An image that cannot
    /// be decoded is served as it is.
    async fn thumbnail(&self, table_id: i64, original: StoredObject, spec: ThumbSpec) -> StoredObject {
        let Ok(storage) = self.file_storage() else { return original };
        let key = thumb_key(table_id, &original.file_name, &spec.label());
        let out_type = if original.content_type == "image/jpeg" { "image/jpeg" } else { "image/png" };
        let thumb = |size| StoredObject {
            key: key.clone(),
            size,
            content_type: out_type.to_string(),
            file_name: original.file_name.clone(),
        };
        if let Ok(Some(size)) = storage.size(&key).await {
            return thumb(size);
        }
        let rendered = async {
            let source = storage.read_all(&original.key).await?;
            let mime = original.content_type.clone();
            let (bytes, _) = tokio::task::spawn_blocking(move || render(&source, &mime, spec))
                .await
                .map_err(|e| tessera_files::FileError::Thumbnail(e.to_string()))??;
            let size = bytes.len() as u64;
            storage.put(&key, bytes).await?;
            Ok::<u64, tessera_files::FileError>(size)
        }
        .await;
        match rendered {
            Ok(size) => thumb(size),
            Err(e) => {
                tracing::warn!("no thumbnail of {}: {e}", original.key);
                original
            }
        }
    }
}
