//! How many output splits a write's files came from: a sort cut into key ranges writes each
//! range's files as `part-<range>-<sequence>`.

use std::collections::BTreeSet;

/// The distinct `part-<split>` prefixes of `files`.
pub fn ranges_written(files: &[String]) -> usize {
    files
        .iter()
        .map(|f| f.rsplit('/').next().unwrap()[..10].to_owned())
        .collect::<BTreeSet<String>>()
        .len()
}
