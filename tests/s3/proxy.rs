//! A faulty link between client and server: a proxy on 127.0.0.1 that takes one HTTP request
//! per connection and, for a chosen fraction of them, answers 503, drops the connection
//! without an answer, or delays it — what throttling and a flaky network do.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub struct Proxy {
    pub endpoint: String,
    /// Faults injected so far.
    pub faults: Arc<AtomicU64>,
    /// Requests seen so far.
    pub requests: Arc<AtomicU64>,
}

impl Proxy {
    /// A proxy to `upstream` (`host:port`) failing `rate` of the requests.
    pub fn start(upstream: &str, rate: f64) -> Proxy {
        Self::start_with(upstream, rate, u64::MAX)
    }

    /// A proxy that passes the first `healthy` requests and answers 503 to every one after
    /// (the link goes down mid-job).
    pub fn failing_after(upstream: &str, healthy: u64) -> Proxy {
        Self::start_with(upstream, 0.0, healthy)
    }

    fn start_with(upstream: &str, rate: f64, healthy: u64) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let faults = Arc::new(AtomicU64::new(0));
        let requests = Arc::new(AtomicU64::new(0));
        let upstream = upstream.to_owned();
        let (f, r) = (faults.clone(), requests.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let n = r.fetch_add(1, Ordering::SeqCst);
                let (upstream, faults) = (upstream.clone(), f.clone());
                std::thread::spawn(move || {
                    let rate = if n >= healthy { 1.0 } else { rate };
                    let _ = serve(client, &upstream, n, rate, &faults);
                });
            }
        });
        Proxy {
            endpoint,
            faults,
            requests,
        }
    }
}

/// A fraction `rate` of the requests fail, spread evenly, chosen by a hash of their number.
fn faulty(n: u64, rate: f64) -> Option<u64> {
    if rate >= 1.0 {
        return Some(0);
    }
    let draw = n.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) % 10_000;
    ((draw as f64) < rate * 10_000.0).then_some(draw % 3)
}

fn serve(
    client: TcpStream,
    upstream: &str,
    n: u64,
    rate: f64,
    faults: &AtomicU64,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    // The request's head, made to close the connection after its answer, and its body.
    let mut head = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        if !lower.starts_with("connection:") {
            head.extend_from_slice(line.as_bytes());
        }
    }
    head.extend_from_slice(b"connection: close\r\n\r\n");
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut client = client;
    match faulty(n, rate) {
        Some(0) => {
            faults.fetch_add(1, Ordering::SeqCst);
            let answer = "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code></Error>";
            write!(
                client,
                "HTTP/1.1 503 Slow Down\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            )?;
            return client.shutdown(Shutdown::Both);
        }
        Some(1) => {
            faults.fetch_add(1, Ordering::SeqCst);
            // Dropped with no answer: the client sees the connection closed under it.
            return client.shutdown(Shutdown::Both);
        }
        Some(_) => {
            faults.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
        }
        None => {}
    }
    let mut server = TcpStream::connect(upstream)?;
    server.write_all(&head)?;
    server.write_all(&body)?;
    std::io::copy(&mut server, &mut client)?;
    client.shutdown(Shutdown::Both)
}
