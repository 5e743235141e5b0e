//! moto's S3 server, started by the tests on 127.0.0.1 (`moto_server.py`). `.ci/moto` installs
//! moto into `$TMPDIR/aqueduct-moto` (or `AQUEDUCT_MOTO_DIR`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

const LAUNCHER: &str = include_str!("moto_server.py");

/// A running server; stopped when dropped.
pub struct Server {
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    child: Child,
    /// Closing it tells the server to stop.
    stdin: Option<ChildStdin>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// A fresh server, or why none could be started.
    pub fn start() -> Result<Server, String> {
        let moto = std::env::var_os("AQUEDUCT_MOTO_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("aqueduct-moto"));
        let mut python_path = moto.display().to_string();
        if let Ok(more) = std::env::var("PYTHONPATH") {
            python_path = format!("{python_path}:{more}");
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let launcher = dir.path().join("moto_server.py");
        std::fs::write(&launcher, LAUNCHER).map_err(|e| e.to_string())?;
        let mut child = Command::new("python3")
            .arg(&launcher)
            .env("PYTHONPATH", &python_path)
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(
                std::fs::File::create(dir.path().join("server.log"))
                    .map(Stdio::from)
                    .map_err(|e| e.to_string())?,
            )
            .spawn()
            .map_err(|e| format!("python3 cannot be run: {e}"))?;
        let stdin = child.stdin.take();
        let mut line = String::new();
        let read = BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        if read == 0 {
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
            return Err(format!(
                "moto's S3 server did not start (run .ci/moto to install moto into {}): {}",
                moto.display(),
                log.lines().last().unwrap_or("no message")
            ));
        }
        let started: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| format!("{e}: {line}"))?;
        let field = |name: &str| started[name].as_str().unwrap_or_default().to_owned();
        Ok(Server {
            endpoint: field("endpoint"),
            access_key: field("access_key"),
            secret_key: field("secret_key"),
            child,
            stdin,
            _dir: dir,
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
