//! Where an output file's bytes go while it is encoded: locally a hidden temporary file,
//! renamed when complete; elsewhere memory, put whole. No half-written file is ever visible.

use crate::error::Cause;
use crate::storage::Location;

/// Where a file's bytes go while it is encoded: a hidden temporary file beside the final one
/// when the directory is local (streamed, then renamed), else memory (then put whole).
pub(super) enum Output {
    Local(TempFile),
    Memory(Vec<u8>),
}

impl Output {
    pub(super) fn open(file: &Location) -> Result<Self, Cause> {
        let Some(path) = &file.local else {
            return Ok(Output::Memory(Vec::new()));
        };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("part");
        let temp = path.with_file_name(format!(".{name}.inprogress"));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let handle = std::fs::File::create(&temp)?;
        Ok(Output::Local(TempFile {
            file: Some(std::io::BufWriter::with_capacity(1 << 20, handle)),
            temp,
            path: path.clone(),
        }))
    }
}

impl std::io::Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Output::Local(temp) => temp.file.as_mut().expect("open until committed").write(buf),
            Output::Memory(bytes) => bytes.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::Local(temp) => temp.file.as_mut().expect("open until committed").flush(),
            Output::Memory(_) => Ok(()),
        }
    }
}

/// A file written under a temporary name; removed unless committed.
pub(super) struct TempFile {
    file: Option<std::io::BufWriter<std::fs::File>>,
    temp: std::path::PathBuf,
    path: std::path::PathBuf,
}

impl TempFile {
    /// Flush and give the file its final name.
    pub(super) fn commit(mut self) -> Result<(), Cause> {
        let file = self.file.take().expect("committed once");
        file.into_inner().map_err(|e| e.into_error())?;
        Ok(std::fs::rename(&self.temp, &self.path)?)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
