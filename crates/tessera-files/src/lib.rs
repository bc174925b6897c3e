//! tessera's file storage, without HTTP or database: where uploaded objects live (a local
//! directory or an S3-compatible bucket, both behind `object_store`), how an upload's
//! stored name is made safe and unique, how its type is detected from its bytes, byte
//! ranges and ETags for downloads, and image thumbnails.

pub mod names;
pub mod range;
pub mod sniff;
pub mod storage;
pub mod thumb;

pub use storage::{FileStorage, S3Config, StorageConfig, Upload};
pub use thumb::ThumbSpec;

use thiserror::Error;

/// What can go wrong while storing or serving a file.
#[derive(Debug, Error)]
pub enum FileError {
    /// The object store failed (I/O, network, credentials): an internal error.
    #[error("file storage: {0}")]
    Storage(String),
    /// The object does not exist (a row points at a name that was never stored).
    #[error("the stored file '{0}' does not exist")]
    Missing(String),
    /// The bytes of an image could not be decoded or encoded for a thumbnail.
    #[error("thumbnail: {0}")]
    Thumbnail(String),
}

impl From<object_store::Error> for FileError {
    fn from(error: object_store::Error) -> FileError {
        match error {
            object_store::Error::NotFound { path, .. } => FileError::Missing(path),
            other => FileError::Storage(other.to_string()),
        }
    }
}
