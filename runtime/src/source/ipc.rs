//! Arrow IPC files (the Feather v2 format): the declared columns of every record batch.

use std::io::{Read, Seek};

use arrow::ipc::reader::FileReader;
use arrow::record_batch::RecordBatch;
use object_store::ObjectStoreExt;

use super::file::FileConfig;
use crate::error::{Cause, Error, Result};
use crate::io_runtime::block_on;
use crate::storage::Location;

/// A file opened for reading: the footer is at its end, so the reader seeks.
trait Input: Read + Seek + Send {}
impl<T: Read + Seek + Send> Input for T {}

/// Where the file's bytes are.
enum Held<'a> {
    Local(&'a std::path::Path),
    Fetched(bytes::Bytes),
}

pub(super) fn read(
    location: &Location,
    config: &FileConfig,
    emit: &mut dyn FnMut(RecordBatch) -> Result<bool>,
) -> Result<()> {
    let url = &location.url;
    let corrupt = |e: arrow::error::ArrowError| Error::Corrupt {
        url: url.to_string(),
        reason: Cause::Arrow(e),
    };
    // A remote file is fetched whole, once: an IPC file is read from its footer back.
    let held = match &location.local {
        Some(path) => Held::Local(path),
        None => {
            let storage = |source| Error::Storage {
                url: url.to_string(),
                source,
            };
            let result = block_on(location.store.get(&location.path)).map_err(storage)?;
            Held::Fetched(block_on(result.bytes()).map_err(storage)?)
        }
    };
    let open = || -> Result<Box<dyn Input>> {
        match &held {
            Held::Fetched(bytes) => Ok(Box::new(std::io::Cursor::new(bytes.clone()))),
            Held::Local(path) => {
                let file = std::fs::File::open(path).map_err(|source| Error::Io {
                    url: url.to_string(),
                    source,
                })?;
                Ok(Box::new(std::io::BufReader::new(file)))
            }
        }
    };
    let file_schema = FileReader::try_new(open()?, None)
        .map_err(corrupt)?
        .schema();
    // Decode the declared columns only; one the file lacks is named by `conform`.
    let projection: Vec<usize> = config
        .schema
        .fields()
        .iter()
        .filter_map(|f| file_schema.index_of(f.name()).ok())
        .collect();
    let reader = FileReader::try_new(open()?, Some(projection)).map_err(corrupt)?;
    for (block, batch) in reader.enumerate() {
        let batch = batch.map_err(corrupt)?;
        let batch = super::conform::conformed(&batch, url, block, config)?;
        if !emit(batch)? {
            break;
        }
    }
    Ok(())
}
