//! `explain()` text, rendered at compile time: the logical plan (one line per stage with the
//! columns after it) and the physical plan (which stages were fused).

use crate::optimize::fusion::Segment;
use crate::plan::Plan;

/// The logical plan.
pub fn logical(plan: &Plan) -> String {
    let mut lines = vec![format!(
        "{}\n    -> {}",
        plan.source.text,
        plan.schemas[0].signature()
    )];
    for (index, node) in plan.stages.iter().enumerate() {
        lines.push(format!(
            "|> {}\n    -> {}",
            node.text,
            plan.schemas[index + 1].signature()
        ));
    }
    if let Some(sink) = &plan.sink {
        lines.push(format!("|> {}", sink.text));
    }
    lines.join("\n")
}

/// The name of a segment in statistics and messages.
pub fn segment_name(plan: &Plan, segment: &Segment) -> String {
    match *segment {
        Segment::Fused { start, end } => {
            let names: Vec<&str> = plan.stages[start..end].iter().map(|n| n.name).collect();
            if names.len() == 1 {
                plan.stages[start].text.clone()
            } else {
                format!("fused[{}]", names.join(" → "))
            }
        }
        Segment::Single(index) => plan.stages[index].text.clone(),
        Segment::Aggregate { start, index } => {
            let names: Vec<&str> = plan.stages[start..index].iter().map(|n| n.name).collect();
            if names.is_empty() {
                plan.stages[index].text.clone()
            } else {
                format!("fused[{}] → {}", names.join(" → "), plan.stages[index].text)
            }
        }
    }
}

/// The physical plan after the source (the runtime adds the source's own line).
pub fn physical(plan: &Plan, segments: &[Segment]) -> String {
    let mut lines = Vec::new();
    for (number, segment) in segments.iter().enumerate() {
        let line = match *segment {
            Segment::Aggregate { start, index } => format!(
                "{}: {} (hash aggregate: {}partial per split, merged per partition, spills past the budget)",
                number + 1,
                segment_name(plan, segment),
                if start < index {
                    "one loop per block updates the table, "
                } else {
                    ""
                }
            ),
            Segment::Single(index) if segment.is_all_to_all(plan) => format!(
                "{}: {} (all-to-all: buffered per split, spills past the budget)",
                number + 1,
                plan.stages[index].text
            ),
            Segment::Fused { start, end } => {
                let names: Vec<&str> = plan.stages[start..end].iter().map(|n| n.name).collect();
                if names.len() == 1 {
                    format!(
                        "{}: {} (one loop per block)",
                        number + 1,
                        plan.stages[start].text
                    )
                } else {
                    format!(
                        "{}: fused[{}] (one loop per block)",
                        number + 1,
                        names.join(" → ")
                    )
                }
            }
            Segment::Single(index) => {
                let node = &plan.stages[index];
                let line = node.op.physical(&node.text);
                format!(
                    "{}: {}",
                    number + 1,
                    line.unwrap_or_else(|| node.text.clone())
                )
            }
        };
        lines.push(format!("stage {line}"));
    }
    if let Some(sink) = &plan.sink {
        lines.push(format!("sink: {}", sink.text));
    }
    lines.join("\n")
}
