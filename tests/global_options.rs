//! Process-wide execution options (alone in this test binary: they affect every dataset).

use aqueduct::prelude::*;

#[derive(Record, Debug, Clone, PartialEq)]
struct Item {
    id: i64,
}

#[test]
fn datasets_take_the_process_wide_options_unless_they_set_their_own() {
    let before = pipeline! { from_items::<Item>(vec![Item { id: 1 }]) };
    let global = aqueduct::ExecOptions {
        threads: 1,
        memory_budget: 123_456,
        preserve_order: true,
        ..aqueduct::ExecOptions::from_environment()
    };
    aqueduct::ExecOptions::set_global(global.clone());
    // Options are looked up when a dataset runs, so one built earlier follows too.
    assert_eq!(before.options(), global);
    let own = before.clone().with_threads(2);
    assert_eq!(own.options().threads, 2);
    assert_eq!(own.options().memory_budget, 123_456);
    assert_eq!(before.count().unwrap(), 1);
}
