//! Tarball storage in an S3-compatible bucket (DigitalOcean Spaces upstream).
//!
//! Objects are private unless the bucket's policy makes them public: upstream sets
//! a `public-read` ACL per object, which `object_store` cannot send; give the bucket
//! a public-read policy (or a CDN) instead.

use std::collections::BTreeSet;

use async_trait::async_trait;
use bytes::Bytes;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use registry_core::{PackageName, Version};

use crate::ActivityLog;
use crate::storage::{ObjectKey, Storage, StorageError, tarball_key};

/// Connection settings for an S3-compatible bucket.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// e.g. `https://ams3.digitaloceanspaces.com`, or `http://127.0.0.1:9000` in tests.
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    /// `bucket.endpoint/key` (true, Spaces and AWS) or `endpoint/bucket/key` (false,
    /// most self-hosted servers).
    pub virtual_hosted: bool,
}

pub struct S3Storage {
    store: AmazonS3,
    target: String,
}

impl S3Storage {
    pub fn new(config: &S3Config) -> Result<Self, StorageError> {
        crate::install_tls_provider();
        let store = AmazonS3Builder::new()
            .with_endpoint(&config.endpoint)
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_access_key_id(&config.access_key)
            .with_secret_access_key(&config.secret_key)
            .with_virtual_hosted_style_request(config.virtual_hosted)
            .with_allow_http(config.endpoint.starts_with("http://"))
            .build()
            .map_err(|e| StorageError::Backend {
                action: "configure",
                key: String::new(),
                target: format!("S3 bucket {} at {}", config.bucket, config.endpoint),
                reason: e.to_string(),
            })?;
        Ok(S3Storage { store, target: format!("S3 bucket {} at {}", config.bucket, config.endpoint) })
    }

    fn backend(&self, action: &'static str, key: &str, err: object_store::Error) -> StorageError {
        StorageError::Backend {
            action,
            key: key.to_owned(),
            target: self.target.clone(),
            reason: err.to_string(),
        }
    }

    /// Writes `bytes` under `key` unless an object is there (then `false`).
    async fn put_once(&self, action: &'static str, key: &str, bytes: Bytes) -> Result<bool, StorageError> {
        // Checked first because not every S3-compatible server honours conditional
        // writes; `PutMode::Create` still guards against a concurrent writer where it does.
        if self.exists(key).await? {
            return Ok(false);
        }
        let options = PutOptions { mode: PutMode::Create, ..Default::default() };
        let path = ObjectPath::from(key);
        match self.store.put_opts(&path, PutPayload::from(bytes.clone()), options).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            // Servers without conditional writes reject the header: plain put after the check.
            Err(object_store::Error::NotImplemented { .. })
            | Err(object_store::Error::NotSupported { .. }) => {
                self.store
                    .put(&path, PutPayload::from(bytes))
                    .await
                    .map_err(|e| self.backend(action, key, e))?;
                Ok(true)
            }
            Err(e) => Err(self.backend(action, key, e)),
        }
    }

    async fn get(&self, action: &'static str, key: &str) -> Result<Option<Bytes>, StorageError> {
        match self.store.get(&ObjectPath::from(key)).await {
            Ok(result) => Ok(Some(result.bytes().await.map_err(|e| self.backend(action, key, e))?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.backend(action, key, e)),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        match self.store.head(&ObjectPath::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.backend("check", key, e)),
        }
    }
}

#[async_trait]
impl Storage for S3Storage {
    fn describe(&self) -> String {
        self.target.clone()
    }

    async fn upload(
        &self,
        name: &PackageName,
        version: &Version,
        tarball: Bytes,
        log: &dyn ActivityLog,
    ) -> Result<(), StorageError> {
        let key = tarball_key(name, version);
        let size = tarball.len();
        if !self.put_once("upload", &key, tarball).await? {
            return Err(StorageError::AlreadyExists { key, target: self.target.clone() });
        }
        log.info(&format!("Uploaded {key} ({size} bytes) to {}", self.target));
        Ok(())
    }

    async fn download(&self, name: &PackageName, version: &Version) -> Result<Option<Bytes>, StorageError> {
        self.get("download", &tarball_key(name, version)).await
    }

    async fn delete(
        &self,
        name: &PackageName,
        version: &Version,
        log: &dyn ActivityLog,
    ) -> Result<(), StorageError> {
        let key = tarball_key(name, version);
        if !self.exists(&key).await? {
            return Err(StorageError::NotFound { key, target: self.target.clone() });
        }
        self.store
            .delete(&ObjectPath::from(key.as_str()))
            .await
            .map_err(|e| self.backend("delete", &key, e))?;
        log.info(&format!("Deleted {key} from {}", self.target));
        Ok(())
    }

    async fn versions(&self, name: &PackageName) -> Result<BTreeSet<Version>, StorageError> {
        let prefix = ObjectPath::from(name.as_str());
        let listing = self
            .store
            .list_with_delimiter(Some(&prefix))
            .await
            .map_err(|e| self.backend("list", name.as_str(), e))?;
        Ok(listing
            .objects
            .iter()
            .filter_map(|o| o.location.filename())
            .filter_map(|f| f.strip_suffix(".tar.gz"))
            .filter_map(|v| Version::parse(v).ok())
            .collect())
    }

    async fn put_object(
        &self,
        key: &ObjectKey,
        bytes: Bytes,
        log: &dyn ActivityLog,
    ) -> Result<bool, StorageError> {
        let size = bytes.len();
        let stored = self.put_once("store", key.as_str(), bytes).await?;
        if stored {
            log.debug(&format!("Stored {key} ({size} bytes) in {}", self.target));
        }
        Ok(stored)
    }

    async fn get_object(&self, key: &ObjectKey) -> Result<Option<Bytes>, StorageError> {
        self.get("read", key.as_str()).await
    }

    async fn has_object(&self, key: &ObjectKey) -> Result<bool, StorageError> {
        self.exists(key.as_str()).await
    }
}
