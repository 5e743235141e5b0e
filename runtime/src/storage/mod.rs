//! Locations: a path or URL resolved through `object_store` into a store and the files it names
//! (a single file, every file under a directory, or the files matching a glob).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use url::Url;

use crate::error::{Cause, Error, Result};
use crate::io_runtime::block_on;
use crate::sync::Recover;

mod counted;
pub(crate) mod hive;
mod listing;
mod remote;

pub use listing::list_files;
pub(crate) use listing::{KeepDirectory, is_hidden, list_files_where};
pub use remote::{StoreOptions, set_store_options, store_options};

/// A store and one path in it, with the URL the user wrote (for messages).
#[derive(Clone)]
pub struct Location {
    /// The store holding the object.
    pub store: Arc<dyn ObjectStore>,
    /// The object's path in the store.
    pub path: Path,
    /// A readable URL of the object, used in every message about it.
    pub url: Arc<str>,
    /// The file on the local filesystem, when the store is the local filesystem: readers
    /// open it directly, which is faster than going through the async store.
    pub local: Option<std::path::PathBuf>,
    /// The object's size, when listing told it.
    pub size: Option<u64>,
    /// What is fetched from a remote store through this location (and those listed from
    /// it) is counted here.
    pub(crate) fetched: Option<Arc<crate::stats::FetchCounter>>,
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

static REGISTRY: LazyLock<Mutex<HashMap<String, Arc<dyn ObjectStore>>>> =
    LazyLock::new(Default::default);

/// Serve URLs starting with `prefix` (a scheme and authority such as `memory://test` or
/// `s3://bucket`) from `store`, instead of a store built from the URL and the environment.
/// Use it for custom credentials, or for an in-memory store in tests.
pub fn register_store(prefix: &str, store: Arc<dyn ObjectStore>) {
    REGISTRY
        .lock()
        .recover()
        .insert(prefix.trim_end_matches('/').to_owned(), store);
}

/// Resolve `location` (a local path, `file://`, `s3://`, `gs://`, `az://`, `http(s)://`,
/// `memory://`, or a registered prefix) to a store and a path.
pub fn resolve(location: &str) -> Result<Location> {
    let invalid = |reason: Cause| Error::InvalidLocation {
        url: location.to_owned(),
        reason,
    };
    let other = |e: Box<dyn std::error::Error + Send + Sync>| invalid(Cause::Other(e));
    if !location.contains("://") {
        let absolute = std::path::absolute(location).map_err(|e| invalid(e.into()))?;
        let path = Path::from_absolute_path(&absolute).map_err(|e| other(e.into()))?;
        return Ok(Location {
            store: Arc::new(LocalFileSystem::new()),
            local: Some(absolute),
            path,
            url: location.into(),
            size: None,
            fetched: None,
        });
    }
    let url = Url::parse(location).map_err(|e| other(e.into()))?;
    let registered = {
        let registry = REGISTRY.lock().recover();
        let prefix = format!("{}://{}", url.scheme(), url.authority());
        registry.get(&prefix).cloned()
    };
    if let Some(store) = registered {
        let path = Path::parse(url.path()).map_err(|e| other(e.into()))?;
        let (store, fetched) = counted(store);
        return Ok(Location {
            store,
            path,
            url: location.into(),
            local: None,
            size: None,
            fetched: Some(fetched),
        });
    }
    let (store, path) = remote::build(&url).map_err(|reason| invalid(reason.into()))?;
    let local = (url.scheme() == "file")
        .then(|| LocalFileSystem::new().path_to_filesystem(&path).ok())
        .flatten();
    let (store, fetched) = match local {
        Some(_) => (Arc::from(store), None),
        None => {
            let (store, fetched) = counted(Arc::from(store));
            (store, Some(fetched))
        }
    };
    Ok(Location {
        store,
        path,
        url: location.into(),
        local,
        size: None,
        fetched,
    })
}

/// `store`, counting what is fetched through it.
fn counted(store: Arc<dyn ObjectStore>) -> (Arc<dyn ObjectStore>, Arc<crate::stats::FetchCounter>) {
    let counter = Arc::new(crate::stats::FetchCounter::default());
    let store = counted::CountingStore {
        inner: store,
        counter: counter.clone(),
    };
    (Arc::new(store), counter)
}

impl Location {
    /// The location of `child` below this one (for listed files and written parts).
    pub fn join(&self, child: &Path) -> Location {
        let relative: String = child
            .prefix_match(&self.path)
            .map(|parts| {
                parts
                    .map(|p| p.as_ref().to_owned())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_else(|| child.to_string());
        let url = if relative.is_empty() {
            self.url.to_string()
        } else {
            format!("{}/{}", self.url.trim_end_matches('/'), relative)
        };
        let local = self.local.as_ref().map(|_| {
            LocalFileSystem::new()
                .path_to_filesystem(child)
                .unwrap_or_else(|_| std::path::PathBuf::from(format!("/{child}")))
        });
        Location {
            store: self.store.clone(),
            path: child.clone(),
            url: url.into(),
            local,
            size: None,
            fetched: self.fetched.clone(),
        }
    }

    /// The child named `name` of this directory location.
    pub fn child(&self, name: &str) -> Location {
        self.join(&self.path.clone().join(name))
    }

    /// The child named exactly `name`, which an escaping already made safe (a Hive partition
    /// directory, `tag=a%2Fb`): `child` would percent-encode its `%` again. Locally the
    /// directory bears the same name, as Hive and Spark name it.
    pub(crate) fn child_escaped(&self, name: &str) -> Location {
        let Ok(part) = object_store::path::PathPart::parse(name) else {
            return self.child(name);
        };
        Location {
            store: self.store.clone(),
            path: self.path.clone().join(part),
            url: format!("{}/{name}", self.url.trim_end_matches('/')).into(),
            local: self.local.as_ref().map(|dir| dir.join(name)),
            size: None,
            fetched: self.fetched.clone(),
        }
    }
}

/// What a source or a sink can be pointed at: a local path (`&str`, `String`, `&Path`,
/// `PathBuf`) or a URL string (`s3://bucket/sales/`).
#[diagnostic::on_unimplemented(
    message = "a location is a path or a URL string, not `{Self}`",
    label = "give a `&str`, `String`, `&Path` or `PathBuf`"
)]
pub trait AsLocation {
    /// The location as the text sources and sinks resolve.
    fn as_location(&self) -> String;
}

impl AsLocation for str {
    fn as_location(&self) -> String {
        self.to_owned()
    }
}

impl AsLocation for String {
    fn as_location(&self) -> String {
        self.clone()
    }
}

impl AsLocation for std::path::Path {
    fn as_location(&self) -> String {
        // A path that is not UTF-8 cannot be a URL's path; its lossy text names it in errors.
        self.to_string_lossy().into_owned()
    }
}

impl AsLocation for std::path::PathBuf {
    fn as_location(&self) -> String {
        self.as_path().as_location()
    }
}

impl<T: AsLocation + ?Sized> AsLocation for &T {
    fn as_location(&self) -> String {
        (**self).as_location()
    }
}

/// The marker a completed write leaves in its directory (the name Spark and Hadoop use),
/// which readers of a directory may require.
pub const SUCCESS: &str = "_SUCCESS";

/// Check that the directory `location` names (a glob: the directory it searches) holds the
/// `_SUCCESS` marker a finished write leaves there.
pub fn check_success(location: &str) -> Result<()> {
    let (base, _) = split_glob(location);
    if exists(&resolve(base)?.child(SUCCESS))? {
        return Ok(());
    }
    Err(Error::NoInput {
        url: location.to_owned(),
        reason: format!(
            "no `{}` marker (require_success = true): the write that made it did not finish",
            SUCCESS
        ),
    })
}

/// Whether the object `file` names exists.
pub(crate) fn exists(file: &Location) -> Result<bool> {
    match block_on(file.store.head(&file.path)) {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(source) => Err(Error::Storage {
            url: file.url.to_string(),
            source,
        }),
    }
}

/// Split `dir/sub/*.parquet` into (`dir/sub`, `*.parquet`) at the first component with a glob
/// character; no glob gives (location, None).
pub(crate) fn split_glob(location: &str) -> (&str, Option<&str>) {
    let Some(first) = location.find(['*', '?', '[']) else {
        return (location, None);
    };
    match location[..first].rfind('/') {
        Some(slash) => (&location[..slash], Some(&location[slash + 1..])),
        None => (".", Some(location)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_glob_at_first_wild_component() {
        assert_eq!(split_glob("a/b/*.csv"), ("a/b", Some("*.csv")));
        assert_eq!(split_glob("a/*/x.csv"), ("a", Some("*/x.csv")));
        assert_eq!(split_glob("a/b.csv"), ("a/b.csv", None));
        assert_eq!(split_glob("*.csv"), (".", Some("*.csv")));
    }

    /// Tests that set the process's store options take turns.
    #[cfg(feature = "cloud")]
    static STORE_OPTIONS: Mutex<()> = Mutex::new(());

    #[cfg(feature = "cloud")]
    #[test]
    fn cloud_urls_resolve_without_touching_the_network() {
        let _options = STORE_OPTIONS.lock().recover();
        let s3 = resolve("s3://bucket/data/sales.parquet").unwrap();
        assert_eq!(s3.path.as_ref(), "data/sales.parquet");
        assert!(s3.local.is_none());
        let http = resolve("https://example.com/files/a.csv").unwrap();
        assert_eq!(http.path.as_ref(), "files/a.csv");
    }

    /// object_store's retry settings reach remote stores: a server that answers every request
    /// with 503 gets exactly `1 + max_retries` requests; client keys apply (`allow_http`),
    /// an unknown key is an error naming it.
    #[cfg(feature = "cloud")]
    #[test]
    fn store_options_reach_remote_stores() {
        let _options = STORE_OPTIONS.lock().recover();
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::{AtomicUsize, Ordering};
        static REQUESTS: AtomicUsize = AtomicUsize::new(0);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/data.csv", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                REQUESTS.fetch_add(1, Ordering::SeqCst);
                let _ = stream.write_all(
                    b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
        });
        let options = StoreOptions {
            config: vec![("allow_http".into(), "true".into())],
            max_retries: Some(2),
            initial_backoff: Some(std::time::Duration::from_millis(1)),
            max_backoff: Some(std::time::Duration::from_millis(5)),
            ..StoreOptions::default()
        };
        set_store_options(options.clone());
        let error = list_files(&url).unwrap_err().to_string();
        assert!(error.contains(&url), "{error}");
        assert_eq!(REQUESTS.load(Ordering::SeqCst), 3, "{error}");

        set_store_options(StoreOptions {
            config: vec![("timout".into(), "5s".into())],
            ..options
        });
        let error = resolve("s3://bucket/data.parquet").unwrap_err().to_string();
        set_store_options(StoreOptions::default());
        assert!(error.contains("no store option `timout`"), "{error}");
    }

    #[cfg(not(feature = "cloud"))]
    #[test]
    fn cloud_urls_need_the_cloud_feature() {
        let error = resolve("s3://bucket/data.parquet").unwrap_err().to_string();
        assert!(
            error.contains("s3://bucket/data.parquet") && error.contains("`cloud` feature"),
            "{error}"
        );
    }
}
