//! What `weft info` shows about a model without importing it: versions,
//! opsets, inputs and outputs with their shapes (symbolic dims included),
//! the op histogram, the parameter count and size, and the ops weft cannot
//! import with the nodes that use them.
//!
//! Invariants: summarizing reads no tensor data (parameter counts come
//! from initializer shapes), so it is fast on large models; the unsupported
//! ops listed are exactly those the importer refuses.

use super::registry::{normalize_domain, support, Unsupported};
use super::types::tensor_type;
use super::{default_opset, graph::node_name};
use crate::onnx::onnx_elem_type;
use crate::onnx::proto::{ModelProto, ValueInfoProto};
use crate::onnx::OnnxModel;
use std::collections::HashMap;
use std::fmt;
use weft_ir::{Context, ElemType};

/// An op weft cannot import, and where the model uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct UnsupportedOp {
    pub domain: String,
    pub op_type: String,
    /// The model's opset of that domain, if it imports one.
    pub opset: Option<i64>,
    pub reason: Unsupported,
    /// The names of the nodes using it, in graph order.
    pub nodes: Vec<String>,
}

/// The unsupported ops of a model whose default-domain opset is `opset`,
/// in order of first use.
pub fn unsupported_ops(ctx: &Context, model: &ModelProto, opset: i64) -> Vec<UnsupportedOp> {
    let Some(graph) = &model.graph else {
        return Vec::new();
    };
    let mut out: Vec<UnsupportedOp> = Vec::new();
    for (i, node) in graph.node.iter().enumerate() {
        let Err(reason) = support(ctx, &node.domain, &node.op_type, opset) else {
            continue;
        };
        let domain = normalize_domain(&node.domain).to_string();
        let name = node_name(node, i);
        match out.iter_mut().find(|u| u.domain == domain && u.op_type == node.op_type) {
            Some(u) => u.nodes.push(name),
            None => out.push(UnsupportedOp {
                opset: domain_opset(model, &domain),
                domain,
                op_type: node.op_type.clone(),
                reason,
                nodes: vec![name],
            }),
        }
    }
    out
}

fn domain_opset(model: &ModelProto, domain: &str) -> Option<i64> {
    model.opset_import.iter().find(|o| normalize_domain(&o.domain) == domain).map(|o| o.version)
}

/// A graph input or output.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueSummary {
    pub name: String,
    /// `tensor<[batch]x128xi64>`, or why it has no weft type.
    pub ty: String,
}

/// The facts `weft info` prints.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSummary {
    pub file: String,
    pub ir_version: i64,
    pub producer: String,
    pub graph_name: String,
    pub opsets: Vec<(String, i64)>,
    /// Why the default-domain opset is not importable, if it is not.
    pub opset_problem: Option<String>,
    pub inputs: Vec<ValueSummary>,
    pub outputs: Vec<ValueSummary>,
    pub nodes: usize,
    /// `(op, count)`, most used first (ties by name); ops of other domains
    /// are written `domain.Op`.
    pub op_counts: Vec<(String, usize)>,
    pub initializers: usize,
    pub parameters: u64,
    pub parameter_bytes: u64,
    pub unsupported: Vec<UnsupportedOp>,
}

/// Summarizes a model.
pub fn summarize(model: &OnnxModel, ctx: &Context) -> ModelSummary {
    let m = &model.model;
    let graph = m.graph.clone().unwrap_or_default();
    let opset = default_opset(m);
    let initializer_names: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs = graph.input.iter().filter(|i| !initializer_names.contains(i.name.as_str())).map(value_summary);
    let (parameters, parameter_bytes) = graph.initializer.iter().fold((0u64, 0u64), |(n, b), t| {
        let count = t.dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(u64::try_from(d).ok()?)).unwrap_or(0);
        (n.saturating_add(count), b.saturating_add(bytes_of(t.data_type, count)))
    });
    ModelSummary {
        file: model.path.display().to_string(),
        ir_version: m.ir_version,
        producer: format!("{} {}", m.producer_name, m.producer_version).trim().to_string(),
        graph_name: graph.name.clone(),
        opsets: m.opset_import.iter().map(|o| (display_domain(&o.domain).to_string(), o.version)).collect(),
        opset_problem: opset.as_ref().err().cloned(),
        inputs: inputs.collect(),
        outputs: graph.output.iter().map(value_summary).collect(),
        nodes: graph.node.len(),
        op_counts: op_counts(&graph.node),
        initializers: graph.initializer.len(),
        parameters,
        parameter_bytes,
        unsupported: opset.map(|v| unsupported_ops(ctx, m, v)).unwrap_or_default(),
    }
}

fn display_domain(domain: &str) -> &str {
    if normalize_domain(domain).is_empty() {
        "ai.onnx"
    } else {
        domain
    }
}

fn value_summary(v: &ValueInfoProto) -> ValueSummary {
    let ty = match v.r#type.as_ref().map(tensor_type) {
        None => "no type".to_string(),
        Some(Ok(Some(t))) => t.to_string(),
        Some(Ok(None)) => "tensor of unknown rank".to_string(),
        Some(Err(e)) => format!("unsupported: {e}"),
    };
    ValueSummary { name: v.name.clone(), ty }
}

fn op_counts(nodes: &[crate::onnx::proto::NodeProto]) -> Vec<(String, usize)> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for n in nodes {
        let key = match normalize_domain(&n.domain) {
            "" => n.op_type.clone(),
            d => format!("{d}.{}", n.op_type),
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    let mut v: Vec<(String, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// Bytes of `count` elements of an ONNX data type (4-bit types packed).
fn bytes_of(data_type: i32, count: u64) -> u64 {
    let bits: u64 = match onnx_elem_type(data_type) {
        Ok(ElemType::F16 | ElemType::BF16) => 16,
        Ok(ElemType::F32) => 32,
        Ok(ElemType::F64) => 64,
        Ok(ElemType::Bool) => 8,
        Ok(ElemType::Int { width, .. }) => u64::from(width),
        _ => 0,
    };
    count.saturating_mul(bits).div_ceil(8)
}

/// `1234567` as `1.23M` (plain below 10000, then K, M, G).
fn human(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}K", n as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.2}M", n as f64 / 1e6),
        _ => format!("{:.2}G", n as f64 / 1e9),
    }
}

impl fmt::Display for ModelSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "model:       {}", self.file)?;
        writeln!(f, "ir_version:  {}", self.ir_version)?;
        writeln!(f, "producer:    {}", if self.producer.is_empty() { "(none)" } else { &self.producer })?;
        if !self.graph_name.is_empty() {
            writeln!(f, "graph:       {}", self.graph_name)?;
        }
        let opsets: Vec<String> = self.opsets.iter().map(|(d, v)| format!("{d} {v}")).collect();
        writeln!(f, "opsets:      {}", opsets.join(", "))?;
        if let Some(p) = &self.opset_problem {
            writeln!(f, "             ({p})")?;
        }
        write_values(f, "inputs", &self.inputs)?;
        write_values(f, "outputs", &self.outputs)?;
        writeln!(
            f,
            "parameters:  {} in {} initializers ({} bytes)",
            human(self.parameters),
            self.initializers,
            human(self.parameter_bytes)
        )?;
        writeln!(f, "nodes:       {}", self.nodes)?;
        let width = self.op_counts.iter().map(|(op, _)| op.len()).max().unwrap_or(0);
        for (op, n) in &self.op_counts {
            writeln!(f, "  {op:<width$}  {n}")?;
        }
        if self.unsupported.is_empty() {
            return Ok(());
        }
        writeln!(f, "unsupported ops: {}", self.unsupported.len())?;
        for u in &self.unsupported {
            let op = if u.domain.is_empty() { u.op_type.clone() } else { format!("{}.{}", u.domain, u.op_type) };
            let why = match &u.reason {
                Unsupported::NotInOpset { since } => format!(" (needs opset {since})"),
                Unsupported::NoDialectOp(_) | Unsupported::Unknown => String::new(),
            };
            writeln!(f, "  {op}{why}: {}", u.nodes.join(", "))?;
        }
        Ok(())
    }
}

fn write_values(f: &mut fmt::Formatter<'_>, title: &str, values: &[ValueSummary]) -> fmt::Result {
    writeln!(f, "{title}:")?;
    for v in values {
        writeln!(f, "  {}: {}", v.name, v.ty)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::proto::{GraphProto, NodeProto, OperatorSetIdProto, TensorProto};

    fn node(op: &str, domain: &str, name: &str) -> NodeProto {
        NodeProto { op_type: op.into(), domain: domain.into(), name: name.into(), ..Default::default() }
    }

    #[test]
    fn counts_parameters_ops_and_unsupported_nodes() {
        let graph = GraphProto {
            node: vec![
                node("Add", "", "a"),
                node("Frob", "", "f1"),
                node("Add", "ai.onnx", "b"),
                node("Frob", "", ""),
                node("Gelu", "com.microsoft", "g"),
            ],
            initializer: vec![
                TensorProto { dims: vec![3, 4], data_type: 1, ..Default::default() },
                TensorProto { dims: vec![5], data_type: 22, ..Default::default() },
            ],
            ..Default::default()
        };
        let model = ModelProto {
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 17 }],
            graph: Some(graph),
            ..Default::default()
        };
        let mut ctx = Context::default();
        ctx.register(&crate::dialect::DIALECT);
        let s = summarize(&OnnxModel { model, path: "m.onnx".into() }, &ctx);
        assert_eq!(s.parameters, 17);
        // 12 f32 (48 bytes) and 5 int4 (3 bytes, packed).
        assert_eq!(s.parameter_bytes, 51);
        let counts: Vec<(&str, usize)> = s.op_counts.iter().map(|(o, n)| (o.as_str(), *n)).collect();
        assert_eq!(counts, [("Add", 2), ("Frob", 2), ("com.microsoft.Gelu", 1)]);
        assert_eq!(s.unsupported.len(), 2);
        assert_eq!(s.unsupported[0].nodes, ["f1", "Frob_3"]);
        assert_eq!(s.unsupported[1].opset, None);
        let text = s.to_string();
        assert!(text.contains("unsupported ops: 2\n  Frob: f1, Frob_3\n  com.microsoft.Gelu: g\n"), "{text}");
        assert_eq!(human(9_999), "9999");
        assert_eq!(human(12_345), "12.3K");
        assert_eq!(human(1_234_567), "1.23M");
        assert_eq!(human(17_240_000), "17.24M");
    }
}
