//! The physical plan as a graph, in mermaid or Graphviz dot syntax: the source, each physical
//! stage (fused stages show what they fused), and the output.

use crate::plan::Plan;

/// A graph syntax for [`Dataset::explain_graph`](crate::Dataset::explain_graph).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    /// Mermaid flowchart (renders in GitHub markdown).
    Mermaid,
    /// Graphviz dot.
    Dot,
}

impl std::str::FromStr for GraphFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "mermaid" => Ok(GraphFormat::Mermaid),
            "dot" | "graphviz" => Ok(GraphFormat::Dot),
            other => Err(format!(
                "unknown graph format `{other}`; expected mermaid or dot"
            )),
        }
    }
}

/// The labels of `plan`'s nodes; when its source is an all-to-all operator, the pipeline
/// before the operator comes first.
fn push_labels(plan: &Plan, labels: &mut Vec<String>) {
    if let Some(upstream) = plan.source.upstream() {
        push_labels(upstream.plan, labels);
    }
    labels.push(plan.source.describe());
    labels.extend(plan.stages.iter().map(|s| s.name()));
}

/// `plan` as a chain of nodes, ending in `output`.
pub fn render(plan: &Plan, output: &str, format: GraphFormat) -> String {
    let mut labels = Vec::new();
    push_labels(plan, &mut labels);
    labels.push(output.to_owned());
    match format {
        GraphFormat::Mermaid => {
            let mut out = String::from("flowchart TD\n");
            for (i, label) in labels.iter().enumerate() {
                out.push_str(&format!("    n{i}[\"{}\"]\n", label.replace('"', "#quot;")));
            }
            for i in 1..labels.len() {
                out.push_str(&format!("    n{} --> n{i}\n", i - 1));
            }
            out
        }
        GraphFormat::Dot => {
            let mut out =
                String::from("digraph pipeline {\n    rankdir=TB;\n    node [shape=box];\n");
            for (i, label) in labels.iter().enumerate() {
                out.push_str(&format!(
                    "    n{i} [label=\"{}\"];\n",
                    label.replace('\\', "\\\\").replace('"', "\\\"")
                ));
            }
            for i in 1..labels.len() {
                out.push_str(&format!("    n{} -> n{i};\n", i - 1));
            }
            out.push_str("}\n");
            out
        }
    }
}
