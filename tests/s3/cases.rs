//! The cases: each gets a prefix of the bucket of its own and panics on a failure.

use std::sync::Arc;

use aqueduct::prelude::*;
use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::{Case, Ctx};

pub fn all() -> Vec<Case> {
    vec![
        (
            "parquet_written_and_read_back",
            parquet_written_and_read_back,
        ),
        (
            "csv_and_json_read_in_byte_ranges",
            csv_and_json_read_in_byte_ranges,
        ),
        ("ipc_written_and_read_back", ipc_written_and_read_back),
        ("images_read_from_the_bucket", images_read_from_the_bucket),
        (
            "a_listing_of_10000_objects_is_paged",
            a_listing_of_10000_objects_is_paged,
        ),
        (
            "a_large_file_is_uploaded_in_parts",
            a_large_file_is_uploaded_in_parts,
        ),
        (
            "a_write_cut_off_mid_upload_leaves_nothing_visible",
            a_write_cut_off_mid_upload_leaves_nothing_visible,
        ),
        (
            "partition_by_writes_directories_in_the_bucket",
            partition_by_writes_directories_in_the_bucket,
        ),
        (
            "wrong_keys_say_access_denied_naming_the_bucket",
            wrong_keys_say_access_denied_naming_the_bucket,
        ),
        (
            "the_secret_appears_in_no_output",
            the_secret_appears_in_no_output,
        ),
        (
            "projection_and_row_group_skipping_fetch_less",
            projection_and_row_group_skipping_fetch_less,
        ),
        (
            "a_flaky_link_changes_nothing_and_a_dead_one_fails_clearly",
            a_flaky_link_changes_nothing_and_a_dead_one_fails_clearly,
        ),
        (
            "a_sort_saved_in_the_bucket_is_read_on_resume",
            a_sort_saved_in_the_bucket_is_read_on_resume,
        ),
        (
            "a_job_checkpointed_in_the_bucket_killed_and_resumed_writes_every_row_once",
            a_job_checkpointed_in_the_bucket_killed_and_resumed_writes_every_row_once,
        ),
        // Last: the log events of every case before it.
        (
            "no_log_event_holds_the_secret",
            no_log_event_holds_the_secret,
        ),
    ]
}

#[derive(Record, Debug, Clone, PartialEq)]
struct Sale {
    id: i64,
    category: String,
    price: f64,
    qty: i32,
    note: Option<String>,
}

fn sales(n: usize) -> Vec<Sale> {
    (0..n)
        .map(|i| Sale {
            id: i as i64,
            category: format!("c{}", i % 5),
            price: (i % 997) as f64 / 4.0,
            qty: (i % 13) as i32,
            note: (i % 3 == 0).then(|| format!("note {i}")),
        })
        .collect()
}

fn sorted(mut rows: Vec<Sale>) -> Vec<Sale> {
    rows.sort_by_key(|s| s.id);
    rows
}

/// Several splits, so that a write makes several files.
fn options() -> aqueduct::ExecOptions {
    aqueduct::ExecOptions {
        threads: 2,
        split_bytes: 256 << 10,
        progress: false,
        ..aqueduct::ExecOptions::from_environment()
    }
}

/// The bucket, reached directly (for seeding objects and looking at what a write left).
fn bucket() -> Arc<dyn ObjectStore> {
    Arc::new(
        AmazonS3Builder::from_env()
            .with_bucket_name("aqueduct")
            .build()
            .unwrap(),
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The objects under `prefix` (a path in the bucket): path and size.
fn listed(prefix: &str) -> Vec<(String, u64)> {
    let store = bucket();
    let mut objects: Vec<(String, u64)> = runtime().block_on(async {
        store
            .list(Some(&Path::from(prefix)))
            .map(|meta| {
                let meta = meta.unwrap();
                (meta.location.to_string(), meta.size)
            })
            .collect()
            .await
    });
    objects.sort();
    objects
}

fn parquet_written_and_read_back(ctx: &Ctx) {
    let rows = sales(60_000);
    let out = format!("{}/sales", ctx.prefix);
    let written = pipeline! { from_items::<Sale>(rows.clone()) |> repartition(4) }
        .with_options(options())
        .write_parquet(&out)
        .unwrap();
    assert!(written.files.len() > 1, "{:?}", written.files);
    assert!(
        written.files.iter().all(|f| f.starts_with(&out)),
        "{:?}",
        written.files
    );
    // The directory, a glob, and a filter pushed into the reader.
    let back = pipeline! { read_parquet::<Sale>(out.clone()) }.with_options(options());
    assert_eq!(sorted(back.take_all().unwrap()), rows);
    let glob = format!("{out}/*.parquet");
    let few = pipeline! { read_parquet::<Sale>(glob) |> filter(id < 100) }.with_options(options());
    assert_eq!(sorted(few.take_all().unwrap()), rows[..100]);
    // The marker of a finished write.
    let objects = listed("parquet_written_and_read_back/sales");
    assert!(
        objects.iter().any(|(p, _)| p.ends_with("/_SUCCESS")),
        "{objects:?}"
    );
}

fn csv_and_json_read_in_byte_ranges(ctx: &Ctx) {
    let rows = sales(40_000);
    // One file each, read back in splits of 16 KiB: byte ranges of one object.
    let one = aqueduct::ExecOptions {
        threads: 1,
        ..options()
    };
    let small_splits = aqueduct::ExecOptions {
        split_bytes: 16 << 10,
        ..options()
    };
    let csv = format!("{}/csv", ctx.prefix);
    let written = pipeline! { from_items::<Sale>(rows.clone()) |> repartition(1) }
        .with_options(one.clone())
        .write_csv(&csv)
        .unwrap();
    assert_eq!(written.files.len(), 1, "{:?}", written.files);
    let back = pipeline! { read_csv::<Sale>(csv) }.with_options(small_splits.clone());
    assert_eq!(sorted(back.take_all().unwrap()), rows);
    let stats = back.stats().unwrap();
    assert!(stats.operators[0].blocks_out > 10, "{stats}");

    let json = format!("{}/json", ctx.prefix);
    pipeline! { from_items::<Sale>(rows.clone()) |> repartition(1) }
        .with_options(one)
        .write_json(&json)
        .unwrap();
    let back = pipeline! { read_json::<Sale>(json) }.with_options(small_splits);
    assert_eq!(sorted(back.take_all().unwrap()), rows);
}

fn a_listing_of_10000_objects_is_paged(ctx: &Ctx) {
    // S3 lists 1,000 keys a page: this listing takes 11.
    const OBJECTS: usize = 10_050;
    let seeding = std::time::Instant::now();
    let store = bucket();
    let prefix = ctx.prefix.trim_start_matches("s3://aqueduct/").to_owned();
    runtime().block_on(async {
        futures::stream::iter(0..OBJECTS)
            .map(|i| {
                let store = store.clone();
                let path = Path::from(format!("{prefix}/many/k{i:05}.txt"));
                async move {
                    store
                        .put(&path, PutPayload::from(format!("{i}\n")))
                        .await
                        .unwrap()
                }
            })
            .buffer_unordered(32)
            .collect::<Vec<_>>()
            .await
    });
    println!(
        "  seeded {OBJECTS} objects in {:.1}s",
        seeding.elapsed().as_secs_f64()
    );
    // Listed whole, as a directory and as a glob, in order.
    let names = |location: String| -> Vec<String> {
        aqueduct::storage::list_files(&location)
            .unwrap()
            .iter()
            .map(|f| f.url.to_string())
            .collect()
    };
    let want: Vec<String> = (0..OBJECTS)
        .map(|i| format!("{}/many/k{i:05}.txt", ctx.prefix))
        .collect();
    assert_eq!(names(format!("{}/many", ctx.prefix)), want);
    assert_eq!(names(format!("{}/many/k*.txt", ctx.prefix)), want);
    // Read: the last page's objects through a glob (every object would be 10,050 requests).
    let last = format!("{}/many/k1000?.txt", ctx.prefix);
    let lines = pipeline! { read_text(last) }.with_options(options());
    let mut got: Vec<i64> = lines
        .take_all()
        .unwrap()
        .into_iter()
        .map(|l| l.text.parse().unwrap())
        .collect();
    got.sort();
    assert_eq!(got, (10_000..10_010).collect::<Vec<i64>>());
}

/// Rows with long notes that compress poorly: as one CSV file, ~11 MiB (two parts).
fn large_rows() -> Vec<Sale> {
    sales(40_000)
        .into_iter()
        .map(|mut s| {
            s.note =
                Some(format!("{:x}", (s.id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)).repeat(16));
            s
        })
        .collect()
}

fn a_large_file_is_uploaded_in_parts(ctx: &Ctx) {
    let rows = large_rows();
    let out = format!("{}/big", ctx.prefix);
    pipeline! { from_items::<Sale>(rows.clone()) |> repartition(1) }
        .with_options(aqueduct::ExecOptions {
            threads: 1,
            ..options()
        })
        .write_csv(&out)
        .unwrap();
    let prefix = out.trim_start_matches("s3://aqueduct/");
    let objects = listed(prefix);
    let (path, size) = objects
        .iter()
        .find(|(p, _)| p.ends_with(".csv"))
        .expect("a csv file");
    assert!(*size > 8 << 20, "{objects:?}");
    // S3 gives an object completed from parts an ETag ending in `-<parts>`.
    let store = bucket();
    let meta = runtime()
        .block_on(store.head(&Path::from(path.as_str())))
        .unwrap();
    let etag = meta.e_tag.unwrap_or_default();
    assert!(
        etag.trim_matches('"').contains('-'),
        "ETag {etag} of {size} bytes"
    );
    let back = pipeline! { read_csv::<Sale>(out) }.with_options(options());
    assert_eq!(sorted(back.take_all().unwrap()), rows);
}

fn partition_by_writes_directories_in_the_bucket(ctx: &Ctx) {
    #[derive(Record, Debug, Clone, PartialEq)]
    struct Tagged {
        id: i64,
        tag: Option<String>,
        qty: i32,
    }
    let awkward = ["a/b", "%2F", "", "..", "=", "x=y", "ünï 数据"];
    let rows: Vec<Tagged> = (0..4_000)
        .map(|i| Tagged {
            id: i,
            tag: (i % 8 != 7).then(|| awkward[i as usize % 8 % awkward.len()].to_owned()),
            qty: (i % 3) as i32,
        })
        .collect();
    let out = format!("{}/by_tag", ctx.prefix);
    let written = pipeline! {
        from_items::<Tagged>(rows.clone())
        |> write_parquet(out.clone(), partition_by = (tag, qty))
    }
    .run_with(options())
    .unwrap();
    assert_eq!(written.files.len(), 24, "{:?}", written.files);
    assert!(
        written.files.iter().any(|f| f.contains("/tag=a%2Fb/qty=")),
        "{:?}",
        written.files
    );
    // Read back whole, the partition columns from the keys.
    let back = pipeline! { read_parquet::<Tagged>(out.clone()) }.with_options(options());
    let mut got = back.take_all().unwrap();
    got.sort_by_key(|r| r.id);
    assert_eq!(got, rows);
    let all = back.stats().unwrap().operators[0].fetched.unwrap();
    // A filter on a partition column reads the files of one partition of three.
    let one = pipeline! { read_parquet::<Tagged>(out.clone()) |> filter(qty == 1) };
    let got = one.count().unwrap();
    assert_eq!(got, rows.iter().filter(|r| r.qty == 1).count());
    let pruned = one.stats().unwrap().operators[0].fetched.unwrap();
    assert!(
        pruned.requests * 2 < all.requests,
        "{pruned:?} against {all:?}"
    );
    assert!(pruned.bytes * 2 < all.bytes, "{pruned:?} against {all:?}");
    // A filter on the first partition column does not list the other values' directories:
    // the top level (8 directories, the `_SUCCESS` marker), then `tag=a%2Fb/`'s 3 directories
    // and their 3 files, where the whole listing returns every file.
    let a_b = pipeline! { read_parquet::<Tagged>(out.clone()) |> filter(tag == "a/b") };
    let got = a_b.count().unwrap();
    assert_eq!(
        got,
        rows.iter()
            .filter(|r| r.tag.as_deref() == Some("a/b"))
            .count()
    );
    let listed = a_b.stats().unwrap().operators[0].fetched.unwrap().listed;
    assert_eq!(all.listed, 25, "{all:?}");
    assert_eq!(listed, 9 + 3 + 3, "{all:?}");
    // A value whose directory a listing's query escapes two ways (a space) is read from a
    // listing of the level above it, still without the files of other values.
    let spaced = pipeline! { read_parquet::<Tagged>(out.clone()) |> filter(tag == "ünï 数据") };
    let got = spaced.count().unwrap();
    assert_eq!(
        got,
        rows.iter()
            .filter(|r| r.tag.as_deref() == Some("ünï 数据"))
            .count()
    );
    assert!(got > 0);
}

fn wrong_keys_say_access_denied_naming_the_bucket(ctx: &Ctx) {
    let out = format!("{}/data", ctx.prefix);
    pipeline! { from_items::<Sale>(sales(10)) }
        .write_parquet(&out)
        .unwrap();
    for (key, value) in [
        ("aws_secret_access_key", "not-the-secret-0123456789"),
        ("aws_access_key_id", "AKIANOBODYATALL00000"),
    ] {
        aqueduct::storage::set_store_options(aqueduct::storage::StoreOptions {
            config: vec![(key.into(), value.into())],
            max_retries: Some(0),
            ..Default::default()
        });
        // A directory (its HEAD refused) and a glob (its listing refused).
        for location in [out.clone(), format!("{out}/*.parquet")] {
            let error = pipeline! { read_parquet::<Sale>(location) }
                .count()
                .unwrap_err()
                .to_string();
            assert!(error.contains("s3://aqueduct"), "{error}");
            assert!(
                error.contains("access denied to bucket `aqueduct`"),
                "{error}"
            );
            assert!(!error.contains("<?xml"), "{error}");
            assert!(!error.contains("not-the-secret"), "{error}");
        }
        aqueduct::storage::set_store_options(Default::default());
    }
}

fn the_secret_appears_in_no_output(ctx: &Ctx) {
    let secret = ctx.server.secret_key.clone();
    // The secret given as a store option too, as `--store-option` would.
    aqueduct::storage::set_store_options(aqueduct::storage::StoreOptions {
        config: vec![("aws_secret_access_key".into(), secret.clone())],
        ..Default::default()
    });
    let out = format!("{}/data", ctx.prefix);
    let job = pipeline! {
        from_items::<Sale>(sales(1_000))
        |> write_parquet(out.clone())
    };
    job.run().unwrap();
    let read = pipeline! { read_parquet::<Sale>(out.clone()) |> filter(qty > 3) };
    read.count().unwrap();
    let missing = pipeline! { read_parquet::<Sale>(format!("{out}/nothing/*.parquet")) };
    let outputs = [
        job.explain(),
        read.explain(),
        read.stats().unwrap().to_string(),
        format!("{:?}", read.stats().unwrap()),
        missing.count().unwrap_err().to_string(),
        format!("{:?}", aqueduct::storage::store_options()),
    ];
    for output in outputs {
        assert!(!output.contains(&secret), "the secret in: {output}");
    }
}

fn projection_and_row_group_skipping_fetch_less(ctx: &Ctx) {
    #[derive(Record, Debug, Clone, PartialEq)]
    struct OnlyId {
        id: i64,
    }
    // One file of 20 row groups of 10,000 rows, the `id` column a small part of each.
    let rows = sales(200_000);
    let batch = pipeline! { from_items::<Sale>(rows.clone()) |> repartition(1) }
        .to_arrow()
        .unwrap();
    let mut file = Vec::new();
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(10_000))
        .build();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(&mut file, batch[0].schema(), Some(properties))
            .unwrap();
    for block in &batch {
        writer.write(block).unwrap();
    }
    writer.close().unwrap();
    let size = file.len() as u64;
    // What reading `id` needs: its column chunks, and the footer (metadata, its length and
    // the magic bytes).
    let metadata = parquet::file::metadata::ParquetMetaDataReader::new()
        .parse_and_finish(&bytes::Bytes::from(file.clone()))
        .unwrap();
    let id_chunks: Vec<u64> = metadata
        .row_groups()
        .iter()
        .map(|group| group.column(0).byte_range().1)
        .collect();
    let footer = size
        - metadata
            .row_groups()
            .iter()
            .map(|g| g.compressed_size() as u64)
            .sum::<u64>()
        - 4;
    let prefix = ctx.prefix.trim_start_matches("s3://aqueduct/");
    runtime()
        .block_on(bucket().put(
            &Path::from(format!("{prefix}/one/sales.parquet")),
            PutPayload::from(file),
        ))
        .unwrap();
    let location = format!("{}/one/sales.parquet", ctx.prefix);
    let fetched = |stats: Option<aqueduct::RunStats>| -> aqueduct::Fetched {
        let fetched = stats.unwrap().operators[0].fetched;
        fetched.expect("a remote source counts what it fetched")
    };

    let all = pipeline! { read_parquet::<Sale>(location.clone()) };
    assert_eq!(sorted(all.take_all().unwrap()), rows);
    let whole = fetched(all.stats());
    assert_eq!(whole.object_bytes, size);
    assert!(whole.bytes >= size * 9 / 10, "{whole:?} of {size}");

    let ids = pipeline! { read_parquet::<OnlyId>(location.clone()) };
    assert_eq!(ids.count().unwrap(), rows.len());
    let projected = fetched(ids.stats());
    let needed = id_chunks.iter().sum::<u64>() + footer;
    assert!(
        projected.bytes <= needed + needed / 20,
        "{projected:?}: {needed} bytes of `id` chunks and footer"
    );

    let few = pipeline! { read_parquet::<OnlyId>(location.clone()) |> filter(id < 10_000) };
    assert_eq!(few.count().unwrap(), 10_000);
    let skipped = fetched(few.stats());
    let needed = id_chunks[0] + footer;
    assert!(
        skipped.bytes <= needed + needed / 20,
        "{skipped:?}: {needed} bytes of the first `id` chunk and footer"
    );
    println!(
        "  {size} bytes, footer {footer}: all {whole:?}; id {projected:?}; id < 10000 {skipped:?}"
    );
}

fn a_flaky_link_changes_nothing_and_a_dead_one_fails_clearly(ctx: &Ctx) {
    use aqueduct::storage::{StoreOptions, set_store_options};
    use std::time::Duration;
    let through = |endpoint: &str, retries: usize| StoreOptions {
        config: vec![("aws_endpoint".into(), endpoint.into())],
        max_retries: Some(retries),
        initial_backoff: Some(Duration::from_millis(5)),
        max_backoff: Some(Duration::from_millis(50)),
        ..Default::default()
    };
    let rows = sales(30_000);
    let upstream = ctx.server.endpoint.trim_start_matches("http://");
    // One request in ten answered 503, dropped without an answer, or held back.
    let proxy = crate::proxy::Proxy::start(upstream, 0.10);
    set_store_options(through(&proxy.endpoint, 10));
    let out = format!("{}/flaky", ctx.prefix);
    let written = pipeline! { from_items::<Sale>(rows.clone()) |> repartition(6) }
        .with_options(options())
        .write_parquet(&out)
        .unwrap();
    let back = pipeline! { read_parquet::<Sale>(out.clone()) }.with_options(options());
    assert_eq!(sorted(back.take_all().unwrap()), rows);
    let csv = format!("{}/flaky_csv", ctx.prefix);
    pipeline! { from_items::<Sale>(rows.clone()) |> repartition(3) }
        .with_options(options())
        .write_csv(&csv)
        .unwrap();
    let small_splits = aqueduct::ExecOptions {
        split_bytes: 64 << 10,
        ..options()
    };
    let back = pipeline! { read_csv::<Sale>(csv) }.with_options(small_splits);
    assert_eq!(sorted(back.take_all().unwrap()), rows);
    let (faults, requests) = (
        proxy.faults.load(std::sync::atomic::Ordering::SeqCst),
        proxy.requests.load(std::sync::atomic::Ordering::SeqCst),
    );
    assert!(faults >= 3, "{faults} faults in {requests} requests");
    println!("  {faults} faults in {requests} requests, output whole");

    // Nothing listens there any more: the server is gone for good.
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", gone.local_addr().unwrap());
    drop(gone);
    set_store_options(through(&endpoint, 2));
    let file = written.files[0].clone();
    let error = pipeline! { read_parquet::<Sale>(file.clone()) }
        .with_options(aqueduct::ExecOptions {
            retry: aqueduct::RetryPolicy {
                retries: 0,
                ..Default::default()
            },
            ..options()
        })
        .count()
        .unwrap_err()
        .to_string();
    assert!(error.contains(&file), "{error}");
    assert!(error.contains("after 2 retries"), "{error}");
    println!("  server gone: {error}");
}

fn a_job_checkpointed_in_the_bucket_killed_and_resumed_writes_every_row_once(ctx: &Ctx) {
    use std::process::{Command, Stdio};
    use std::time::Instant;
    #[derive(Record, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    struct Out {
        id: i64,
        value: i64,
        doubled: i64,
    }
    // The standalone binary of examples/checkpointed.rs, its checkpoint and output in the
    // bucket; the endpoint as a `--store-option` (the keys come from the environment).
    let binary = crate::example::example("checkpointed");
    let job = |run: &str| {
        let mut command = Command::new(&binary);
        command
            .arg("--checkpoint")
            .arg(format!("{}/{run}/checkpoint", ctx.prefix))
            .arg("--output")
            .arg(format!("events={}/{run}/out", ctx.prefix))
            .arg("--store-option")
            .arg(format!("aws_endpoint={}", ctx.server.endpoint))
            .args(["--threads", "2", "--no-progress"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    };
    let check = |run: &str| {
        let location = format!("{}/{run}/out", ctx.prefix);
        let mut rows = pipeline! { read_parquet::<Out>(location) }
            .take_all()
            .unwrap();
        rows.sort();
        assert_eq!(rows.len(), 400_000, "no row lost, none duplicated");
        for (i, row) in rows.iter().enumerate() {
            let value = (i as i64 * 7919) % 1000;
            assert_eq!(
                row,
                &Out {
                    id: i as i64,
                    value,
                    doubled: value * 2
                }
            );
        }
        let prefix = format!(
            "{}/{run}/out/",
            ctx.prefix.trim_start_matches("s3://aqueduct/")
        );
        for (path, _) in listed(&prefix) {
            let name = path.trim_start_matches(&prefix);
            assert!(
                name == "_SUCCESS" || (name.starts_with("part-") && name.ends_with(".parquet")),
                "an object that is not a finished part: {path}"
            );
        }
    };
    let started = Instant::now();
    let output = job("whole").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    check("whole");
    let whole = started.elapsed();
    // Killed with SIGKILL at five moments spread over a run, then left to finish.
    for kill in 1..=5u32 {
        let mut child = job("killed").spawn().unwrap();
        std::thread::sleep(whole * kill / 7);
        match child.try_wait().unwrap() {
            Some(status) => assert!(status.success(), "the job failed: {status}"),
            None => {
                child.kill().unwrap();
                child.wait().unwrap();
            }
        }
    }
    let output = job("killed").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    check("killed");
    println!(
        "  a run takes {:.1}s; killed 5 times and resumed",
        whole.as_secs_f64()
    );
}

fn ipc_written_and_read_back(ctx: &Ctx) {
    #[derive(Record, Debug, Clone, PartialEq)]
    struct Priced {
        id: i64,
        price: f64,
    }
    let rows = sales(20_000);
    let out = format!("{}/ipc", ctx.prefix);
    let written = pipeline! { from_items::<Sale>(rows.clone()) |> repartition(3) }
        .with_options(options())
        .write_ipc(&out)
        .unwrap();
    assert!(
        written.files.iter().all(|f| f.ends_with(".arrow")),
        "{:?}",
        written.files
    );
    let back = pipeline! { read_ipc::<Sale>(out.clone()) }.with_options(options());
    assert_eq!(sorted(back.take_all().unwrap()), rows);
    let priced = pipeline! { read_ipc::<Priced>(out.clone()) |> filter(id < 10) };
    let mut got = priced.take_all().unwrap();
    got.sort_by_key(|p| p.id);
    let want: Vec<Priced> = rows[..10]
        .iter()
        .map(|s| Priced {
            id: s.id,
            price: s.price,
        })
        .collect();
    assert_eq!(got, want);
}

fn a_sort_saved_in_the_bucket_is_read_on_resume(ctx: &Ctx) {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    static CRASH: AtomicBool = AtomicBool::new(true);
    static READ: AtomicUsize = AtomicUsize::new(0);
    let rows = sales(30_000);
    let input = format!("{}/in", ctx.prefix);
    pipeline! { from_items::<Sale>(rows.clone()) |> repartition(4) }
        .write_parquet(&input)
        .unwrap();
    let out = format!("{}/out", ctx.prefix);
    let job = pipeline! {
        read_parquet::<Sale>(input.clone())
        |> map_batches(|batch: RecordBatch| {
            READ.fetch_add(batch.num_rows(), Ordering::SeqCst);
            batch
        })
        |> sort(desc(price), id)
        |> map_batches(|batch: RecordBatch| {
            assert!(!CRASH.load(Ordering::SeqCst), "the machine died after the sort");
            batch
        })
        |> write_parquet(out.clone())
    };
    let options = aqueduct::ExecOptions {
        checkpoint: Some(format!("{}/checkpoint", ctx.prefix)),
        ..options()
    };
    let error = job.run_with(options.clone()).unwrap_err().to_string();
    assert!(error.contains("the machine died after the sort"), "{error}");
    assert_eq!(READ.load(Ordering::SeqCst), rows.len());
    // The sorted output was saved in the bucket: the resumed run does not read the input.
    let saved = listed(&format!(
        "{}/checkpoint",
        ctx.prefix.trim_start_matches("s3://aqueduct/")
    ));
    assert!(saved.len() > 2, "{saved:?}");
    CRASH.store(false, Ordering::SeqCst);
    assert_eq!(job.run_with(options).unwrap().rows, rows.len());
    assert_eq!(
        READ.load(Ordering::SeqCst),
        rows.len(),
        "the input was read again"
    );
    let back = pipeline! { read_parquet::<Sale>(out) }.with_preserve_order(true);
    let mut want = rows;
    want.sort_by(|a, b| b.price.total_cmp(&a.price).then(a.id.cmp(&b.id)));
    assert_eq!(back.take_all().unwrap(), want);
}

fn images_read_from_the_bucket(ctx: &Ctx) {
    #[derive(Record, Debug, Clone, PartialEq)]
    struct Digit {
        image: Tensor<u8, 8, 8>,
    }
    // The first 20 digits of each label shipped in examples/data, uploaded as they are.
    let local = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/digits");
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for label in 0..10 {
        let mut names: Vec<_> = std::fs::read_dir(local.join(label.to_string()))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        files.extend(names.into_iter().take(20));
    }
    let prefix = ctx.prefix.trim_start_matches("s3://aqueduct/").to_owned();
    let store = bucket();
    runtime().block_on(async {
        futures::stream::iter(files.iter())
            .map(|file| {
                let store = store.clone();
                let relative = file
                    .strip_prefix(&local)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                let bytes = std::fs::read(file).unwrap();
                let path = Path::from(format!("{prefix}/digits/{relative}"));
                async move { store.put(&path, PutPayload::from(bytes)).await.unwrap() }
            })
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await
    });
    let location = format!("{}/digits", ctx.prefix);
    let rows = pipeline! { read_images::<Digit>(location, include_paths = true) }
        .with_options(options())
        .take_all()
        .unwrap();
    assert_eq!(rows.len(), files.len());
    for row in &rows {
        let relative = row.path.split("/digits/").nth(1).unwrap();
        let direct = image::open(local.join(relative))
            .unwrap()
            .to_luma8()
            .into_raw();
        assert_eq!(row.image.values(), direct.as_slice(), "{}", row.path);
    }
}

fn no_log_event_holds_the_secret(ctx: &Ctx) {
    // A run that logs: retries through a link that fails every other request.
    let proxy = crate::proxy::Proxy::start(ctx.server.endpoint.trim_start_matches("http://"), 0.5);
    aqueduct::storage::set_store_options(aqueduct::storage::StoreOptions {
        config: vec![
            ("aws_endpoint".into(), proxy.endpoint.clone()),
            (
                "aws_secret_access_key".into(),
                ctx.server.secret_key.clone(),
            ),
        ],
        max_retries: Some(0),
        ..Default::default()
    });
    let out = format!("{}/data", ctx.prefix);
    let _ = pipeline! { from_items::<Sale>(sales(2_000)) |> repartition(8) }.write_parquet(&out);
    let _ = pipeline! { read_parquet::<Sale>(out) }.count();
    let logged = crate::logs::LOGGED.lock().unwrap().clone();
    assert!(
        logged.contains("retrying"),
        "the cases logged nothing about retries: {logged}"
    );
    assert!(
        !logged.contains(&ctx.server.secret_key),
        "the secret in the logs"
    );
}

fn a_write_cut_off_mid_upload_leaves_nothing_visible(ctx: &Ctx) {
    // One file of ~11 MiB (two parts); the link goes down as the upload starts (2), during a
    // part (3, 4) and as it completes (5): nothing is visible in the bucket after any.
    let rows = large_rows();
    let upstream = ctx.server.endpoint.trim_start_matches("http://");
    for healthy in [2, 3, 4, 5] {
        let proxy = crate::proxy::Proxy::failing_after(upstream, healthy);
        aqueduct::storage::set_store_options(aqueduct::storage::StoreOptions {
            config: vec![("aws_endpoint".into(), proxy.endpoint.clone())],
            max_retries: Some(1),
            initial_backoff: Some(std::time::Duration::from_millis(5)),
            max_backoff: Some(std::time::Duration::from_millis(20)),
            ..Default::default()
        });
        let out = format!("{}/cut{healthy}", ctx.prefix);
        let error = pipeline! { from_items::<Sale>(rows.clone()) |> repartition(1) }
            .with_options(aqueduct::ExecOptions {
                threads: 1,
                retry: aqueduct::RetryPolicy {
                    retries: 0,
                    ..Default::default()
                },
                ..options()
            })
            .write_csv(&out)
            .unwrap_err()
            .to_string();
        assert!(error.contains(&out), "{error}");
        println!("  cut after {healthy} requests: {error}");
        aqueduct::storage::set_store_options(Default::default());
        let prefix = out.trim_start_matches("s3://aqueduct/");
        assert_eq!(
            listed(prefix),
            Vec::<(String, u64)>::new(),
            "after {healthy} requests: {error}"
        );
    }
}
