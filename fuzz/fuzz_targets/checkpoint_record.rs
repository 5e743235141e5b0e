//! The checkpoint's record parser: any bytes as a commit record (checksum and JSON) are a
//! record or "damaged", never a panic; and any text sealed with its checksum reaches the JSON
//! parser, whose records survive a round trip.
#![no_main]

use aqueduct_runtime::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fuzzing::checkpoint_record(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(record) = fuzzing::checkpoint_record(&fuzzing::seal(text)) {
            let again = fuzzing::checkpoint_record(&fuzzing::seal(&record))
                .expect("a record written again reads back");
            assert_eq!(again, record);
        }
    }
});
