//! Where stored objects live: a directory on this machine, or an S3-compatible bucket.
//! Both are `object_store` backends behind one handle, so every code path above (upload,
//! download, ranges, cleanup) is the same for both and is tested once per backend.
//!
//! Key layout (table ids survive renames; stored names are unique):
//! - `{table_id}/{stored_name}` — an uploaded file;
//! - `thumbs/{table_id}/{stored_name}/{W}x{H}` — its cached thumbnails.

use crate::FileError;
use bytes::{Bytes, BytesMut};
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, MultipartUpload, ObjectStore, PutPayload};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

/// Size of each part of a multipart upload (S3's minimum is 5 MiB). A smaller file is
/// written with one plain PUT after it has been received.
pub const PART_SIZE: usize = 5 << 20;

/// Where files are stored (restart-time setting).
#[derive(Debug, Clone)]
pub enum StorageConfig {
    /// A local directory (created if missing).
    Local { dir: PathBuf },
    /// An S3-compatible bucket.
    S3(S3Config),
}

/// An S3-compatible bucket. Credentials left out are read the usual AWS way
/// (environment, instance metadata).
#[derive(Debug, Clone, Default)]
pub struct S3Config {
    pub bucket: String,
    /// Key prefix inside the bucket (e.g. `tessera/`), so one bucket can hold more.
    pub prefix: Option<String>,
    /// Endpoint URL of a non-AWS service (MinIO, R2, moto...).
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`; most
    /// self-hosted services need it.
    pub path_style: bool,
}

/// The storage handle: cheap to clone.
#[derive(Clone)]
pub struct FileStorage {
    store: Arc<dyn ObjectStore>,
    description: String,
}

impl std::fmt::Debug for FileStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

impl FileStorage {
    /// Opens the configured storage (a local directory is created if missing).
    pub fn open(config: &StorageConfig) -> Result<FileStorage, FileError> {
        match config {
            StorageConfig::Local { dir } => {
                // The directory is created by the first upload, not here: a server that
                // never stores a file leaves no trace (a Postgres deployment has no data
                // directory at all). Keys are prefixed with its absolute path.
                let absolute = std::path::absolute(dir)
                    .map_err(|e| FileError::Storage(format!("cannot resolve {}: {e}", dir.display())))?;
                let root = Path::from_absolute_path(&absolute).map_err(|e| FileError::Storage(e.to_string()))?;
                let store = object_store::prefix::PrefixStore::new(object_store::local::LocalFileSystem::new(), root);
                Ok(FileStorage { store: Arc::new(store), description: format!("local directory {}", dir.display()) })
            }
            StorageConfig::S3(s3) => {
                let mut builder = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(&s3.bucket)
                    .with_virtual_hosted_style_request(!s3.path_style);
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
                }
                if let Some(region) = &s3.region {
                    builder = builder.with_region(region);
                }
                if let Some(key) = &s3.access_key_id {
                    builder = builder.with_access_key_id(key);
                }
                if let Some(secret) = &s3.secret_access_key {
                    builder = builder.with_secret_access_key(secret);
                }
                let bucket = builder.build()?;
                let prefix = s3.prefix.as_deref().map(|p| p.trim_matches('/')).filter(|p| !p.is_empty());
                let description =
                    format!("S3 bucket {}{}", s3.bucket, prefix.map(|p| format!("/{p}")).unwrap_or_default());
                let store: Arc<dyn ObjectStore> = match prefix {
                    Some(prefix) => Arc::new(object_store::prefix::PrefixStore::new(bucket, prefix)),
                    None => Arc::new(bucket),
                };
                Ok(FileStorage { store, description })
            }
        }
    }

    /// Starts writing a new object at `key`; nothing is visible until [`Upload::finish`].
    pub fn upload(&self, key: &str) -> Upload {
        Upload { store: self.store.clone(), key: Path::from(key), buffer: BytesMut::new(), multipart: None, size: 0 }
    }

    /// Writes a whole small object (a thumbnail).
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), FileError> {
        self.store.put(&Path::from(key), PutPayload::from(bytes)).await?;
        Ok(())
    }

    /// The size of an object, `None` if it does not exist.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, FileError> {
        match self.store.head(&Path::from(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Streams an object, or one byte range of it.
    pub async fn read(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<BoxStream<'static, Result<Bytes, FileError>>, FileError> {
        let options = GetOptions { range: range.map(GetRange::Bounded), ..GetOptions::default() };
        let result = self.store.get_opts(&Path::from(key), options).await?;
        Ok(result.into_stream().map_err(FileError::from).boxed())
    }

    /// A whole object in memory (a thumbnail's source, bounded by the caller).
    pub async fn read_all(&self, key: &str) -> Result<Bytes, FileError> {
        Ok(self.store.get(&Path::from(key)).await?.bytes().await?)
    }

    /// Deletes an object; one that is already gone is fine.
    pub async fn delete(&self, key: &str) -> Result<(), FileError> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every key under a prefix (`7/`), sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, FileError> {
        let prefix = Path::from(prefix);
        let mut keys: Vec<String> =
            self.store.list(Some(&prefix)).map_ok(|meta| meta.location.to_string()).try_collect().await?;
        keys.sort();
        Ok(keys)
    }

    /// Deletes every object under a prefix.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<(), FileError> {
        for key in self.list(prefix).await? {
            self.delete(&key).await?;
        }
        Ok(())
    }
}

/// An object being written. Parts go to the store as they fill, so memory stays at one
/// part whatever the file's size; [`Upload::abort`] (or an error) leaves nothing behind.
pub struct Upload {
    store: Arc<dyn ObjectStore>,
    key: Path,
    buffer: BytesMut,
    multipart: Option<Box<dyn MultipartUpload>>,
    size: u64,
}

impl Upload {
    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends bytes; sends a part once [`PART_SIZE`] bytes are waiting.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), FileError> {
        self.buffer.extend_from_slice(chunk);
        self.size += chunk.len() as u64;
        while self.buffer.len() >= PART_SIZE {
            let part = self.buffer.split_to(PART_SIZE).freeze();
            self.send_part(part).await?;
        }
        Ok(())
    }

    async fn send_part(&mut self, part: Bytes) -> Result<(), FileError> {
        if self.multipart.is_none() {
            self.multipart = Some(self.store.put_multipart(&self.key).await?);
        }
        let upload = self.multipart.as_mut().expect("started above");
        upload.put_part(PutPayload::from(part)).await?;
        Ok(())
    }

    /// Makes the object visible; returns its size.
    pub async fn finish(mut self) -> Result<u64, FileError> {
        let rest = std::mem::take(&mut self.buffer).freeze();
        match self.multipart.take() {
            None => {
                self.store.put(&self.key, PutPayload::from(rest)).await?;
            }
            Some(mut upload) => {
                let result = async {
                    if !rest.is_empty() {
                        upload.put_part(PutPayload::from(rest)).await?;
                    }
                    upload.complete().await
                }
                .await;
                if let Err(e) = result {
                    let _ = upload.abort().await;
                    return Err(e.into());
                }
            }
        }
        Ok(self.size)
    }

    /// Drops what was written.
    pub async fn abort(mut self) {
        if let Some(mut upload) = self.multipart.take() {
            if let Err(e) = upload.abort().await {
                tracing::warn!("could not abort the upload of {}: {e}", self.key);
            }
        }
    }
}

/// The key of an uploaded file.
pub fn object_key(table_id: i64, stored_name: &str) -> String {
    format!("{table_id}/{stored_name}")
}

/// The key of one thumbnail of a file.
pub fn thumb_key(table_id: i64, stored_name: &str, label: &str) -> String {
    format!("thumbs/{table_id}/{stored_name}/{label}")
}

/// The prefix of every thumbnail of a file.
pub fn thumbs_prefix(table_id: i64, stored_name: &str) -> String {
    format!("thumbs/{table_id}/{stored_name}/")
}

/// The prefixes holding a table's files and thumbnails.
pub fn table_prefixes(table_id: i64) -> [String; 2] {
    [format!("{table_id}/"), format!("thumbs/{table_id}/")]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_objects_round_trip_and_clean_up() {
        let dir = tempfile::tempdir().unwrap();
        let storage = FileStorage::open(&StorageConfig::Local { dir: dir.path().join("files") }).unwrap();
        let mut upload = storage.upload("7/a_1.bin");
        let big = vec![3u8; PART_SIZE + 10];
        upload.write(&big).await.unwrap();
        upload.write(b"tail").await.unwrap();
        assert_eq!(upload.finish().await.unwrap(), (PART_SIZE + 14) as u64);
        storage.put("thumbs/7/a_1.bin/1x1", vec![1, 2]).await.unwrap();
        assert_eq!(storage.size("7/a_1.bin").await.unwrap(), Some((PART_SIZE + 14) as u64));
        let range: Vec<Bytes> = storage
            .read("7/a_1.bin", Some(PART_SIZE as u64..PART_SIZE as u64 + 12))
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(range.concat(), [&[3u8; 10][..], b"ta"].concat());
        assert_eq!(storage.list("thumbs/7/").await.unwrap(), vec!["thumbs/7/a_1.bin/1x1"]);
        for prefix in table_prefixes(7) {
            storage.delete_prefix(&prefix).await.unwrap();
        }
        assert!(storage.list("").await.unwrap().is_empty());
        storage.delete("7/a_1.bin").await.unwrap();
    }

    #[tokio::test]
    async fn a_local_directory_is_created_by_the_first_upload() {
        let dir = tempfile::tempdir().unwrap();
        let files = dir.path().join("data").join("files");
        let storage = FileStorage::open(&StorageConfig::Local { dir: files.clone() }).unwrap();
        assert!(!files.exists() && storage.list("").await.unwrap().is_empty());
        storage.put("1/a_1.txt", b"a".to_vec()).await.unwrap();
        assert!(files.join("1").join("a_1.txt").is_file());
    }

    #[tokio::test]
    async fn an_aborted_upload_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let storage = FileStorage::open(&StorageConfig::Local { dir: dir.path().to_path_buf() }).unwrap();
        let mut upload = storage.upload("1/x_1.bin");
        upload.write(&vec![0u8; PART_SIZE * 2]).await.unwrap();
        upload.abort().await;
        assert!(storage.list("").await.unwrap().is_empty());
        let leftovers: Vec<_> = walk(dir.path());
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
        files
    }
}
