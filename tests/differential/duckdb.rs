//! DuckDB, the oracle: the Python package run by `duckdb_run.py`. `.ci/duckdb` installs it
//! into `$TMPDIR/aqueduct-duckdb` (or `AQUEDUCT_DUCKDB_DIR`); a `duckdb` the system's
//! `python3` imports does as well.

use std::path::{Path, PathBuf};
use std::process::Command;

const RUNNER: &str = include_str!("duckdb_run.py");

pub struct Duckdb {
    python_path: String,
    pub version: String,
}

impl Duckdb {
    /// DuckDB, or why it cannot be run.
    pub fn find() -> Result<Duckdb, String> {
        let dir = std::env::var_os("AQUEDUCT_DUCKDB_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("aqueduct-duckdb"));
        let mut python_path = dir.display().to_string();
        if let Ok(more) = std::env::var("PYTHONPATH") {
            python_path = format!("{python_path}:{more}");
        }
        let out = Command::new("python3")
            .args(["-c", "import duckdb; print(duckdb.__version__)"])
            .env("PYTHONPATH", &python_path)
            .output()
            .map_err(|e| format!("python3 cannot be run: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "python3 cannot import duckdb (run .ci/duckdb to install it into {})",
                dir.display()
            ));
        }
        Ok(Duckdb {
            python_path,
            version: String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        })
    }

    /// Run a job (see `duckdb_run.py`) written to `dir`.
    pub fn run(&self, job: &serde_json::Value, dir: &Path) -> Result<(), String> {
        let runner = dir.join("duckdb_run.py");
        let job_file = dir.join("job.json");
        std::fs::write(&runner, RUNNER).map_err(|e| e.to_string())?;
        std::fs::write(&job_file, job.to_string()).map_err(|e| e.to_string())?;
        let out = Command::new("python3")
            .arg(&runner)
            .arg(&job_file)
            .env("PYTHONPATH", &self.python_path)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "DuckDB's runner failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}
