//! The ONNX backend node tests (testsuite/onnx-node/) as the differential
//! tests load them: the case list, each case's model, inputs (named by the
//! graph's non-initializer inputs), expected outputs, and the inputs it
//! feeds into operands that legalization needs as compile-time constants.

use super::graph_inputs;
use std::path::{Path, PathBuf};
use weft_frontend::onnx::read_tensor_pb;
use weft_ir::Tensor;

/// One loaded node test.
pub struct NodeCase {
    pub model: PathBuf,
    pub inputs: Vec<(String, Tensor)>,
    pub expected: Vec<Tensor>,
    /// Graph inputs fed into shape operands (see [`SHAPE_OPERANDS`]).
    pub shape_inputs: Vec<String>,
}

/// The names of the cases, from testsuite/onnx-node/cases.txt.
pub fn case_names() -> Vec<String> {
    let list = std::fs::read_to_string("testsuite/onnx-node/cases.txt").expect("cases.txt");
    list.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect()
}

/// Loads the case `name`.
pub fn load_case(name: &str) -> Result<NodeCase, String> {
    let dir = Path::new("testsuite/onnx-node").join(name);
    let model = dir.join("model.onnx");
    let names = graph_inputs(&model)?;
    let inputs = load_tensors(&dir, "input")?;
    Ok(NodeCase {
        inputs: names.into_iter().zip(inputs).collect(),
        expected: load_tensors(&dir, "output")?,
        shape_inputs: shape_inputs(&model)?,
        model,
    })
}

fn load_tensors(dir: &Path, prefix: &str) -> Result<Vec<Tensor>, String> {
    let mut out = Vec::new();
    for i in 0.. {
        let path = dir.join("test_data_set_0").join(format!("{prefix}_{i}.pb"));
        if !path.exists() {
            break;
        }
        out.push(read_tensor_pb(&path).map_err(|d| d.message)?.1);
    }
    Ok(out)
}

/// The operand positions of each op that legalization needs as
/// compile-time constants.
pub const SHAPE_OPERANDS: &[(&str, &[usize])] = &[
    ("Reshape", &[1]),
    ("Expand", &[1]),
    ("Slice", &[1, 2, 3, 4]),
    ("Squeeze", &[1]),
    ("Unsqueeze", &[1]),
    ("Split", &[1]),
    ("Resize", &[1, 2, 3]),
    ("ReduceMean", &[1]),
    ("ReduceSum", &[1]),
    ("ReduceMax", &[1]),
    ("ConstantOfShape", &[0]),
    ("Range", &[0, 1, 2]),
    // Quantized types carry their scales and zero points.
    ("QuantizeLinear", &[1, 2]),
    ("DequantizeLinear", &[1, 2]),
    ("QLinearMatMul", &[1, 2, 4, 5, 6, 7]),
];

/// The graph inputs a case feeds into shape operands.
fn shape_inputs(model: &Path) -> Result<Vec<String>, String> {
    let m = weft_frontend::onnx::read_model(model).map_err(|d| d.message)?;
    let g = m.model.graph.as_ref().ok_or("no graph")?;
    let mut names = Vec::new();
    for n in &g.node {
        let Some((_, positions)) = SHAPE_OPERANDS.iter().find(|(op, _)| *op == n.op_type) else { continue };
        for &p in *positions {
            if let Some(input) = n.input.get(p).filter(|i| g.input.iter().any(|gi| &gi.name == *i)) {
                names.push(input.clone());
            }
        }
    }
    Ok(names)
}
