//! Hive-style partition directories, `column=value/`: the escaping Hive (and Spark, Polars,
//! DuckDB, Ray Data) use, so that every value round-trips and the tools read each other's
//! layouts.

/// The directory value of a null (Hive's convention).
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Whether Hive escapes `c` in a partition value (`FileUtils.escapePathName`): control
/// characters, the path separator, `=`, `%` and characters object stores and shells trip on.
fn escaped(c: char) -> bool {
    matches!(
        c,
        '\u{0}'
            ..='\u{1f}'
                | '"'
                | '#'
                | '%'
                | '\''
                | '*'
                | '/'
                | ':'
                | '='
                | '?'
                | '\\'
                | '\u{7f}'
                | '{'
                | '['
                | ']'
                | '^'
    )
}

/// `value` as a directory name's part: each escaped character as `%XX` (upper-case hex).
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if escaped(c) {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The value `escape` made `text` from; a `%` not followed by two hex digits stays as it is.
pub fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The directory name of `column = value` (`None`: null).
pub fn directory(column: &str, value: Option<&str>) -> String {
    match value {
        Some(value) => format!("{}={}", escape(column), escape(value)),
        None => format!("{}={NULL_PARTITION}", escape(column)),
    }
}

/// The partition columns and values of a file at `relative` (its path below the location
/// read, `a=1/b=x/part-0.parquet`): every directory named `column=value`, in order.
pub fn partition_values(relative: &str) -> Vec<(String, Option<String>)> {
    let mut segments: Vec<&str> = relative.split('/').filter(|s| !s.is_empty()).collect();
    segments.pop();
    segments.into_iter().filter_map(partition).collect()
}

/// The partition column and value a directory named `name` stands for (`None`: not a
/// partition directory).
pub fn partition(name: &str) -> Option<(String, Option<String>)> {
    let (column, value) = name.split_once('=')?;
    let value = (value != NULL_PARTITION).then(|| unescape(value));
    Some((unescape(column), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awkward_values_round_trip() {
        for value in [
            "a/b",
            "%2F",
            "",
            "..",
            ".",
            "=",
            "a=b",
            "100%",
            "x y",
            "ünï/数据",
            "tab\there",
            "new\nline",
            "C:\\dir",
            "?*[]^{}#'\"",
            "%",
            "%4",
            "%zz",
        ] {
            let name = directory("tag", Some(value));
            assert!(!name.contains('/') && !name[4..].contains('='), "{name}");
            assert!(name.chars().all(|c| !c.is_control()), "{name:?}");
            let parsed = partition_values(&format!("{name}/part-0.parquet"));
            assert_eq!(
                parsed,
                vec![("tag".to_owned(), Some(value.to_owned()))],
                "{name}"
            );
        }
        assert_eq!(directory("tag", Some("a/b")), "tag=a%2Fb");
        assert_eq!(directory("tag", Some("%2F")), "tag=%252F");
        assert_eq!(
            partition_values(&format!("tag={NULL_PARTITION}/x=1/f.csv")),
            vec![
                ("tag".to_owned(), None),
                ("x".to_owned(), Some("1".to_owned()))
            ]
        );
        // Directories that are not partitions are passed over.
        assert_eq!(
            partition_values("2024/a=1/f.csv"),
            vec![("a".to_owned(), Some("1".to_owned()))]
        );
    }
}
