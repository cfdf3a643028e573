//! Tarball storage in an S3-compatible bucket (DigitalOcean Spaces upstream).
//!
//! Package tarballs are uploaded with the `public-read` ACL, as upstream's are (clients
//! download them anonymously); registry objects (`_build-cache/…`) keep the bucket's
//! default, private.

use async_trait::async_trait;
use bytes::Bytes;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::ActivityLog;
use crate::storage::{Storage, StorageError, log_write, words};

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
    /// The same bucket with `x-amz-acl: public-read` on every request (signed, as
    /// `object_store` signs default headers): used only to upload package tarballs.
    public: AmazonS3,
    target: String,
}

impl S3Storage {
    pub fn new(config: &S3Config) -> Result<Self, StorageError> {
        crate::install_tls_provider();
        let target = format!("S3 bucket {} at {}", config.bucket, config.endpoint);
        let build = |options: ClientOptions| {
            // Client options first: setting them replaces any set before (allow_http).
            AmazonS3Builder::new()
                .with_client_options(options)
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
                    target: target.clone(),
                    reason: e.to_string(),
                })
        };
        let store = build(ClientOptions::new())?;
        let mut public_read = http::HeaderMap::new();
        public_read.insert("x-amz-acl", http::HeaderValue::from_static("public-read"));
        let public = build(ClientOptions::new().with_default_headers(public_read))?;
        Ok(S3Storage { store, public, target })
    }

    fn backend(&self, action: &'static str, key: &str, err: object_store::Error) -> StorageError {
        StorageError::Backend {
            action,
            key: key.to_owned(),
            target: self.target.clone(),
            reason: err.to_string(),
        }
    }
}

#[async_trait]
impl Storage for S3Storage {
    fn describe(&self) -> String {
        self.target.clone()
    }

    async fn put_once(&self, key: &str, bytes: Bytes, log: &dyn ActivityLog) -> Result<(), StorageError> {
        let exists = || StorageError::AlreadyExists { key: key.to_owned(), target: self.target.clone() };
        // Checked first because not every S3-compatible server honours conditional
        // writes; `PutMode::Create` still guards against a concurrent writer where it does.
        if self.head(key).await?.is_some() {
            return Err(exists());
        }
        let (action, size) = (words(key).write, bytes.len());
        let options = PutOptions { mode: PutMode::Create, ..Default::default() };
        let path = ObjectPath::from(key);
        // Tarballs are public as upstream's; `_…` objects (the build cache) are not.
        let writer = if key.starts_with('_') { &self.store } else { &self.public };
        match writer.put_opts(&path, PutPayload::from(bytes.clone()), options).await {
            Ok(_) => {}
            Err(object_store::Error::AlreadyExists { .. }) => return Err(exists()),
            // Servers without conditional writes reject the header: plain put after the check.
            Err(object_store::Error::NotImplemented { .. })
            | Err(object_store::Error::NotSupported { .. }) => {
                writer.put(&path, PutPayload::from(bytes)).await.map_err(|e| self.backend(action, key, e))?;
            }
            Err(e) => return Err(self.backend(action, key, e)),
        }
        log_write(log, key, size, &self.target);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        let action = words(key).read;
        match self.store.get(&ObjectPath::from(key)).await {
            Ok(result) => Ok(Some(result.bytes().await.map_err(|e| self.backend(action, key, e))?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.backend(action, key, e)),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<u64>, StorageError> {
        match self.store.head(&ObjectPath::from(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.backend("check", key, e)),
        }
    }

    async fn remove(&self, key: &str, log: &dyn ActivityLog) -> Result<(), StorageError> {
        // S3 deletes of a missing key succeed, so absence is checked first.
        if self.head(key).await?.is_none() {
            return Err(StorageError::NotFound { key: key.to_owned(), target: self.target.clone() });
        }
        self.store.delete(&ObjectPath::from(key)).await.map_err(|e| self.backend("delete", key, e))?;
        log.info(&format!("Deleted {key} from {}", self.target));
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let listing = self
            .store
            .list_with_delimiter(Some(&ObjectPath::from(prefix)))
            .await
            .map_err(|e| self.backend("list", prefix, e))?;
        Ok(listing.objects.iter().filter_map(|o| o.location.filename()).map(str::to_owned).collect())
    }
}
