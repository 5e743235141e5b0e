//! Whole files as rows: `read_images` (each image decoded into a tensor column of the declared
//! shape) and `read_binary_files` (each file's bytes). Files are grouped into splits of
//! [`FILES_PER_SPLIT`], read in parallel.

use std::io::Cursor;
use std::sync::Arc;

use arrow::array::{ArrayRef, BinaryBuilder, FixedSizeListArray, StringBuilder, UInt8Array};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use object_store::ObjectStoreExt;

use super::{Source, Split};
use crate::error::{Cause, Error, Result};
use crate::io_runtime::block_on;
use crate::options::ExecOptions;
use crate::storage::{Location, list_files};

/// Files per split: small files are cheap to open, so a split takes many.
const FILES_PER_SPLIT: usize = 256;
/// Rows per block.
const BLOCK_ROWS: usize = 8192;
/// The files `read_images` reads; others in its directories are skipped.
const IMAGE_EXTENSIONS: &[&str] = &[
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".tif", ".tiff", ".bmp",
];

/// What each file becomes.
#[derive(Clone, Debug)]
pub enum FileRows {
    /// An image, decoded to `shape` = [height, width, channels], resized first to `size`
    /// (height, width) when given.
    Images {
        /// `None` when the declared column is not a tensor (an error when the run starts).
        shape: Option<[usize; 3]>,
        size: Option<(u32, u32)>,
    },
    /// The file's bytes.
    Binary,
}

/// Files under a location, one row each.
pub struct FilesSource {
    location: String,
    record: &'static str,
    /// The declared columns (`image` or `bytes`, and `path` with `include_paths`).
    schema: SchemaRef,
    rows: FileRows,
    include_paths: bool,
}

impl FilesSource {
    /// `read_images::<R>(location)`: `R`'s `image` column is a `Tensor` of `shape`.
    pub fn images(
        location: impl Into<String>,
        record: &'static str,
        schema: SchemaRef,
        shape: Option<[usize; 3]>,
        size: Option<(u32, u32)>,
        include_paths: bool,
    ) -> Self {
        Self {
            location: location.into(),
            record,
            schema,
            rows: FileRows::Images { shape, size },
            include_paths,
        }
    }

    /// `read_binary_files::<R>(location)`: `R`'s `bytes` column holds each file.
    pub fn binary(
        location: impl Into<String>,
        record: &'static str,
        schema: SchemaRef,
        include_paths: bool,
    ) -> Self {
        Self {
            location: location.into(),
            record,
            schema,
            rows: FileRows::Binary,
            include_paths,
        }
    }
}

impl Source for FilesSource {
    fn describe(&self) -> String {
        let what = match &self.rows {
            FileRows::Images { shape, size } => format!(
                "read_images(\"{}\") as {}{}{}",
                self.location,
                self.record,
                shape
                    .map(|[h, w, c]| format!(" {h}×{w}×{c}"))
                    .unwrap_or_default(),
                size.map(|(h, w)| format!(" resized from any size to {h}×{w}"))
                    .unwrap_or_default()
            ),
            FileRows::Binary => format!(
                "read_binary_files(\"{}\") as {}",
                self.location, self.record
            ),
        };
        format!("{what}{}", if self.include_paths { " +path" } else { "" })
    }

    fn splits(&self, _options: &ExecOptions) -> Result<Vec<Box<dyn Split>>> {
        if let FileRows::Images { shape: None, .. } = self.rows {
            return Err(Error::SchemaMismatch {
                url: self.location.clone(),
                record: self.record.to_owned(),
                reason: "the `image` column must be a `Tensor<T, height, width, channels>`".into(),
            });
        }
        if let Some(directories) = self.subdirectories()? {
            return Ok(directories
                .into_iter()
                .map(|directory| {
                    Box::new(DirectorySplit {
                        directory,
                        source: FilesSplit {
                            files: Vec::new(),
                            schema: self.schema.clone(),
                            rows: self.rows.clone(),
                            include_paths: self.include_paths,
                        },
                    }) as Box<dyn Split>
                })
                .collect());
        }
        let files = self.files(&self.location)?;
        Ok(files
            .chunks(FILES_PER_SPLIT)
            .map(|files| {
                Box::new(FilesSplit {
                    files: files.to_vec(),
                    schema: self.schema.clone(),
                    rows: self.rows.clone(),
                    include_paths: self.include_paths,
                }) as Box<dyn Split>
            })
            .collect())
    }
}

impl FilesSource {
    /// The files to read under `location`, sorted.
    fn files(&self, location: &str) -> Result<Vec<Location>> {
        let files = self.rows.listed(location)?;
        // Files were listed, but none is an image.
        if files.is_empty() && matches!(self.rows, FileRows::Images { .. }) {
            return Err(Error::NoInput {
                url: location.to_owned(),
                reason: format!("no {} files", IMAGE_EXTENSIONS.join(", ")),
            });
        }
        Ok(files)
    }

    /// When the location is a local directory of subdirectories (`<label>/<n>.png`), those
    /// subdirectories, sorted: each becomes a split that lists its own files when read, so
    /// reading starts at once instead of after listing every file (30 ms for 50,000 images).
    fn subdirectories(&self) -> Result<Option<Vec<String>>> {
        if self.location.contains(['*', '?', '[']) {
            return Ok(None);
        }
        let root = crate::storage::resolve(&self.location)?;
        let Some(dir) = root.local.filter(|d| d.is_dir()) else {
            return Ok(None);
        };
        let mut directories = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|source| Error::Io {
            url: self.location.clone(),
            source,
        })? {
            let entry = entry.map_err(|source| Error::Io {
                url: self.location.clone(),
                source,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(['.', '_']) {
                continue;
            }
            if entry.path().is_dir() {
                directories.push(entry.path().to_string_lossy().into_owned());
            } else if self.rows.wants(&name) {
                // Files beside the subdirectories: list everything up front.
                return Ok(None);
            }
        }
        directories.sort();
        Ok((!directories.is_empty()).then_some(directories))
    }
}

impl FileRows {
    /// The files under `location` this source reads, sorted.
    fn listed(&self, location: &str) -> Result<Vec<Location>> {
        let mut files = list_files(location)?;
        files.retain(|f| self.wants(f.url.rsplit('/').next().unwrap_or_default()));
        Ok(files)
    }

    /// Whether a file of this name is read: `read_images` skips files that are not images
    /// (a README beside them), as Ray Data does.
    fn wants(&self, name: &str) -> bool {
        match self {
            FileRows::Images { .. } => {
                let name = name.to_ascii_lowercase();
                IMAGE_EXTENSIONS.iter().any(|e| name.ends_with(e))
            }
            FileRows::Binary => true,
        }
    }
}

/// A subdirectory, listed when read.
struct DirectorySplit {
    directory: String,
    /// The split its files become (its file list is filled when read).
    source: FilesSplit,
}

impl Split for DirectorySplit {
    fn name(&self) -> Arc<str> {
        self.directory.as_str().into()
    }

    fn read(&self, emit: &mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()> {
        FilesSplit {
            files: self.source.rows.listed(&self.directory)?,
            schema: self.source.schema.clone(),
            rows: self.source.rows.clone(),
            include_paths: self.source.include_paths,
        }
        .read(emit)
    }
}

struct FilesSplit {
    files: Vec<Location>,
    schema: SchemaRef,
    rows: FileRows,
    include_paths: bool,
}

impl Split for FilesSplit {
    fn name(&self) -> Arc<str> {
        match (self.files.first(), self.files.last()) {
            (Some(first), Some(last)) if self.files.len() > 1 => {
                format!("{} .. {}", first.url, last.url).into()
            }
            (Some(first), _) => first.url.clone(),
            _ => "no files".into(),
        }
    }

    fn read(&self, emit: &mut dyn FnMut(RecordBatch) -> Result<bool>) -> Result<()> {
        for files in self.files.chunks(BLOCK_ROWS) {
            let mut values: Vec<u8> = Vec::new();
            let mut binary = BinaryBuilder::new();
            let mut paths = StringBuilder::new();
            for file in files {
                let bytes = read_all(file)?;
                match &self.rows {
                    FileRows::Images { shape, size } => {
                        let shape = shape.expect("checked when listed");
                        values.extend(decode_guarded(&bytes, &file.url, shape, *size)?)
                    }
                    FileRows::Binary => binary.append_value(&bytes),
                }
                if self.include_paths {
                    paths.append_value(file.url.as_ref());
                }
            }
            let mut columns: Vec<ArrayRef> = Vec::new();
            for field in self.schema.fields() {
                let column: ArrayRef = match field.name().as_str() {
                    "path" if self.include_paths => Arc::new(paths.finish_cloned()),
                    "bytes" => Arc::new(binary.finish_cloned()),
                    _ => image_column(std::mem::take(&mut values), field.data_type())?,
                };
                columns.push(column);
            }
            if !emit(RecordBatch::try_new(self.schema.clone(), columns)?)? {
                break;
            }
        }
        Ok(())
    }
}

/// A whole file.
fn read_all(file: &Location) -> Result<Vec<u8>> {
    if let Some(path) = &file.local {
        return std::fs::read(path).map_err(|source| Error::Io {
            url: file.url.to_string(),
            source,
        });
    }
    let storage = |source| Error::Storage {
        url: file.url.to_string(),
        source,
    };
    let result = block_on(file.store.get(&file.path)).map_err(storage)?;
    Ok(block_on(result.bytes()).map_err(storage)?.to_vec())
}

/// The pixels of an image as `shape` = [height, width, channels], row-major.
/// `decode`, with a decoder's panic on a damaged file as an error naming it.
fn decode_guarded(
    bytes: &[u8],
    url: &str,
    shape: [usize; 3],
    size: Option<(u32, u32)>,
) -> Result<Vec<u8>> {
    std::panic::catch_unwind(|| decode(bytes, url, shape, size)).unwrap_or_else(|panic| {
        Err(Error::Corrupt {
            url: url.to_owned(),
            reason: format!(
                "the image decoder failed: {}",
                crate::error::panic_message(&panic)
            )
            .into(),
        })
    })
}

/// Images above this many pixels are refused before they are decoded: a file of a few hundred
/// bytes can claim 31240×8200 pixels and take seconds and 256 MB to decode (found by fuzzing).
/// Twice the limit Pillow warns at, as Pillow refuses.
const MAX_PIXELS: u64 = 178_956_970;

/// A JPEG holds at least one bit per 8×8 block of its first component (the DC code of every
/// scan that has one), so at most 512 pixels per byte. The decoder fills what a file cut short
/// lacks, and a kilobyte claiming 2048×65527 pixels took seconds (found by fuzzing): such a
/// file is refused as truncated, as Pillow refuses truncated images by default.
const JPEG_PIXELS_PER_BYTE: u64 = 512;

fn decode(bytes: &[u8], url: &str, shape: [usize; 3], size: Option<(u32, u32)>) -> Result<Vec<u8>> {
    let corrupt = |reason: Cause| Error::Corrupt {
        url: url.to_owned(),
        reason,
    };
    let unreadable =
        |e: image::ImageError| corrupt(Cause::Other(e.into()).context("not a readable image"));
    let reader = || {
        image::ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| corrupt(e.into()))
    };
    let [height, width, channels] = shape;
    let wrong_size = |(w, h): (u32, u32)| Error::Shape {
        url: url.to_owned(),
        reason: format!(
            "the image is {h}×{w} but the record's `image` is {height}×{width}×{channels}; \
             pass `size = ({height}, {width})` to resize every image"
        ),
    };
    // The header first: a wrong size without `size`, or too many pixels, is known undecoded.
    let (w, h) = reader()?.into_dimensions().map_err(unreadable)?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(corrupt(
            format!("the image is {h}×{w}, more than {MAX_PIXELS} pixels (a decompression bomb?)")
                .into(),
        ));
    }
    if size.is_none() && (h as usize, w as usize) != (height, width) {
        return Err(wrong_size((w, h)));
    }
    if reader()?.format() == Some(image::ImageFormat::Jpeg)
        && (bytes.len() as u64) < u64::from(w) * u64::from(h) / JPEG_PIXELS_PER_BYTE
    {
        return Err(corrupt(
            format!(
                "{} bytes are too few for a {h}×{w} JPEG: the file is cut short",
                bytes.len()
            )
            .into(),
        ));
    }
    let image = reader()?.decode().map_err(unreadable)?;
    let image = match size {
        Some((height, width)) => {
            image.resize_exact(width, height, image::imageops::FilterType::Triangle)
        }
        None => image,
    };
    if (image.height() as usize, image.width() as usize) != (height, width) {
        return Err(wrong_size((image.width(), image.height())));
    }
    Ok(match channels {
        1 => image.to_luma8().into_raw(),
        3 => image.to_rgb8().into_raw(),
        4 => image.to_rgba8().into_raw(),
        n => {
            return Err(Error::Shape {
                url: url.to_owned(),
                reason: format!("an image has 1, 3 or 4 channels, not {n}"),
            });
        }
    })
}

/// The image column: pixels as a fixed-size list, cast to the declared element type.
fn image_column(values: Vec<u8>, declared: &DataType) -> Result<ArrayRef> {
    let DataType::FixedSizeList(item, size) = declared else {
        return Err(Error::Arrow(arrow::error::ArrowError::SchemaError(
            format!("the image column is {declared}, not a tensor"),
        )));
    };
    let bytes = Arc::new(arrow::datatypes::Field::new("item", DataType::UInt8, false));
    let list = FixedSizeListArray::try_new(bytes, *size, Arc::new(UInt8Array::from(values)), None)?;
    if item.data_type() == &DataType::UInt8 {
        return Ok(Arc::new(list));
    }
    Ok(arrow::compute::cast(&list, declared)?)
}
