//! Remote object stores (S3, GCS, Azure, HTTP) built from a URL, the environment, and the
//! process's [`StoreOptions`]: object_store's own client settings and request retries.

use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use object_store::ObjectStore;
use object_store::path::Path;
use url::Url;

use crate::sync::Recover;

/// How remote stores are reached, for every store built after it is set (see
/// [`set_store_options`]). aqueduct's own retries (`ExecOptions::retry`) apply on top: they
/// redo a whole split's read, object_store's redo one HTTP request.
#[derive(Clone, Default, PartialEq)]
pub struct StoreOptions {
    /// object_store configuration keys and values, over those read from the environment:
    /// client settings any store takes (`timeout`, `connect_timeout`, `proxy_url`,
    /// `allow_http`, ...) and the store's own (`aws_region`, `aws_endpoint`, ...). A key the
    /// store does not know is an error naming it.
    pub config: Vec<(String, String)>,
    /// How many times object_store retries a failed request (`None`: its default, 10).
    pub max_retries: Option<usize>,
    /// How long after a request's first try object_store stops retrying it (`None`: its
    /// default, 3 minutes).
    pub retry_timeout: Option<Duration>,
    /// The first delay of object_store's backoff between retries (`None`: its default).
    pub initial_backoff: Option<Duration>,
    /// The longest delay of that backoff (`None`: its default).
    pub max_backoff: Option<Duration>,
}

/// Shown without the values of keys that hold secrets (`aws_secret_access_key`,
/// `azure_storage_account_key`, tokens, passwords, service account keys).
impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let config: Vec<(&str, &str)> = self
            .config
            .iter()
            .map(|(key, value)| {
                let shown = if is_secret(key) { "<redacted>" } else { value };
                (key.as_str(), shown)
            })
            .collect();
        f.debug_struct("StoreOptions")
            .field("config", &config)
            .field("max_retries", &self.max_retries)
            .field("retry_timeout", &self.retry_timeout)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .finish()
    }
}

/// Whether a store option's value is a secret.
fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["secret", "token", "password", "key", "credential", "sas"]
        .iter()
        .any(|word| key.contains(word))
        && !key.ends_with("key_id")
}

static OPTIONS: LazyLock<Mutex<StoreOptions>> = LazyLock::new(Default::default);

/// Use `options` for the remote stores built from now on.
pub fn set_store_options(options: StoreOptions) {
    *OPTIONS.lock().recover() = options;
}

/// The options remote stores are built with.
pub fn store_options() -> StoreOptions {
    OPTIONS.lock().recover().clone()
}

/// The store and path of `url`, or why there is none.
pub(super) fn build(url: &Url) -> Result<(Box<dyn ObjectStore>, Path), String> {
    #[cfg(feature = "cloud")]
    {
        let (scheme, path) =
            object_store::ObjectStoreScheme::parse(url).map_err(|e| e.to_string())?;
        if let Some(store) = cloud::build(url, scheme, &store_options())? {
            return Ok((store, Path::parse(path).map_err(|e| e.to_string())?));
        }
    }
    object_store::parse_url_opts(url, std::env::vars()).map_err(|e| {
        format!(
            "{e} (cloud URLs need aqueduct's `cloud` feature; in-memory stores must be registered with `register_store`)"
        )
    })
}

#[cfg(feature = "cloud")]
mod cloud {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
    use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
    use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
    use object_store::http::HttpBuilder;
    use object_store::{
        BackoffConfig, ClientConfigKey, ObjectStore, ObjectStoreScheme, RetryConfig,
    };
    use url::Url;

    use super::StoreOptions;

    fn retry(options: &StoreOptions) -> RetryConfig {
        let default = RetryConfig::default();
        RetryConfig {
            max_retries: options.max_retries.unwrap_or(default.max_retries),
            retry_timeout: options.retry_timeout.unwrap_or(default.retry_timeout),
            backoff: BackoffConfig {
                init_backoff: options
                    .initial_backoff
                    .unwrap_or(default.backoff.init_backoff),
                max_backoff: options.max_backoff.unwrap_or(default.backoff.max_backoff),
                base: default.backoff.base,
            },
        }
    }

    /// The store `$builder` builds with `options`' keys (parsed as `$key`) and retries.
    macro_rules! built {
        ($builder:expr, $key:ty, $options:expr) => {{
            let mut builder = $builder;
            for (key, value) in &$options.config {
                let parsed: $key = key
                    .parse()
                    .map_err(|_| format!("no store option `{key}` for this store"))?;
                builder = builder.with_config(parsed, value);
            }
            let store = builder
                .with_retry(retry($options))
                .build()
                .map_err(|e| e.to_string())?;
            Box::new(store) as Box<dyn ObjectStore>
        }};
    }

    /// The remote store for `url`, or `None` for the schemes object_store builds without
    /// settings (local files, memory).
    pub(super) fn build(
        url: &Url,
        scheme: ObjectStoreScheme,
        options: &StoreOptions,
    ) -> Result<Option<Box<dyn ObjectStore>>, String> {
        let store = match scheme {
            ObjectStoreScheme::AmazonS3 => built!(
                AmazonS3Builder::from_env().with_url(url.as_str()),
                AmazonS3ConfigKey,
                options
            ),
            ObjectStoreScheme::GoogleCloudStorage => built!(
                GoogleCloudStorageBuilder::from_env().with_url(url.as_str()),
                GoogleConfigKey,
                options
            ),
            ObjectStoreScheme::MicrosoftAzure => built!(
                MicrosoftAzureBuilder::from_env().with_url(url.as_str()),
                AzureConfigKey,
                options
            ),
            ObjectStoreScheme::Http => built!(
                HttpBuilder::new().with_url(&url[..url::Position::BeforePath]),
                ClientConfigKey,
                options
            ),
            _ => return Ok(None),
        };
        Ok(Some(store))
    }
}
