//! Builders for ONNX models in tests of the importer: prost structs made
//! in Rust, a context with the onnx dialect, and running the imported
//! module with the reference interpreter.
#![allow(dead_code)]

use weft_frontend::import::{import_model, ImportOptions};
use weft_frontend::onnx::proto::tensor_shape_proto::{dimension, Dimension};
use weft_frontend::onnx::proto::{
    type_proto, AttributeProto, AttributeType, DataType, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use weft_frontend::onnx::OnnxModel;
use weft_ir::interp::run_function;
use weft_ir::{Context, Diagnostic, ElemType, Module, Tensor, TensorData};

/// A dimension of a declared shape: a number or a symbol.
#[derive(Clone, Copy)]
pub enum D {
    V(i64),
    P(&'static str),
}

pub fn value(name: &str, elem: DataType, dims: &[D]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            denotation: String::new(),
            value: Some(match d {
                D::V(n) => dimension::Value::DimValue(*n),
                D::P(p) => dimension::Value::DimParam(p.to_string()),
            }),
        })
        .collect();
    let tensor = type_proto::Tensor { elem_type: elem as i32, shape: Some(TensorShapeProto { dim }) };
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto { denotation: String::new(), value: Some(type_proto::Value::TensorType(tensor)) }),
        ..Default::default()
    }
}

pub fn f32_value(name: &str, dims: &[D]) -> ValueInfoProto {
    value(name, DataType::Float, dims)
}

pub fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: format!("{op}_{}", outputs.first().copied().unwrap_or("")),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

pub fn with(mut n: NodeProto, attrs: Vec<AttributeProto>) -> NodeProto {
    n.attribute.extend(attrs);
    n
}

pub fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Int as i32, i, ..Default::default() }
}

pub fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Ints as i32, ints: v.to_vec(), ..Default::default() }
}

pub fn float(name: &str, f: f32) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Float as i32, f, ..Default::default() }
}

pub fn tensor_attr(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Tensor as i32, t: Some(t), ..Default::default() }
}

pub fn init_f32(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Float as i32,
        float_data: values.to_vec(),
        ..Default::default()
    }
}

pub fn init_i64(name: &str, dims: &[i64], values: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Int64 as i32,
        int64_data: values.to_vec(),
        ..Default::default()
    }
}

/// A model of one graph, importing `opset` of the default domain.
pub struct Model {
    pub opset: i64,
    pub nodes: Vec<NodeProto>,
    pub inputs: Vec<ValueInfoProto>,
    pub outputs: Vec<ValueInfoProto>,
    pub initializers: Vec<TensorProto>,
    pub value_info: Vec<ValueInfoProto>,
}

impl Model {
    pub fn new(opset: i64) -> Model {
        Model {
            opset,
            nodes: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            initializers: Vec::new(),
            value_info: Vec::new(),
        }
    }

    pub fn node(mut self, n: NodeProto) -> Model {
        self.nodes.push(n);
        self
    }

    pub fn input(mut self, v: ValueInfoProto) -> Model {
        self.inputs.push(v);
        self
    }

    pub fn output(mut self, v: ValueInfoProto) -> Model {
        self.outputs.push(v);
        self
    }

    pub fn init(mut self, t: TensorProto) -> Model {
        self.initializers.push(t);
        self
    }

    pub fn proto(&self) -> ModelProto {
        let graph = GraphProto {
            name: "test_graph".into(),
            node: self.nodes.clone(),
            input: self.inputs.clone(),
            output: self.outputs.clone(),
            initializer: self.initializers.clone(),
            value_info: self.value_info.clone(),
            ..Default::default()
        };
        ModelProto {
            ir_version: 8,
            producer_name: "weft-tests".into(),
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: self.opset }],
            graph: Some(graph),
            ..Default::default()
        }
    }

    pub fn onnx(&self) -> OnnxModel {
        OnnxModel { model: self.proto(), path: "test.onnx".into() }
    }

    pub fn import(&self) -> Result<Module, Vec<Diagnostic>> {
        self.import_with(&ImportOptions::default())
    }

    pub fn import_with(&self, opts: &ImportOptions) -> Result<Module, Vec<Diagnostic>> {
        import_model(&self.onnx(), &ctx(), opts)
    }

    /// Imports, panicking with the diagnostics on failure.
    pub fn module(&self) -> Module {
        match self.import() {
            Ok(m) => m,
            Err(d) => panic!("import failed: {}", messages(&d).join("\n")),
        }
    }

    /// The first error's message.
    pub fn error(&self) -> String {
        self.error_with(&ImportOptions::default())
    }

    pub fn error_with(&self, opts: &ImportOptions) -> String {
        match self.import_with(opts) {
            Ok(m) => panic!("import succeeded:\n{}", weft_ir::printer::print_module(&m)),
            Err(d) => messages(&d).join("\n"),
        }
    }
}

pub fn messages(d: &[Diagnostic]) -> Vec<String> {
    d.iter().map(|d| d.message.clone()).collect()
}

pub fn ctx() -> Context {
    let mut ctx = Context::default();
    ctx.register(&weft_frontend::dialect::DIALECT);
    ctx
}

/// Runs `@main` of `m`.
pub fn run(m: &Module, inputs: Vec<Tensor>) -> Vec<Tensor> {
    let f = m.func("main").expect("@main");
    match run_function(m, f, inputs) {
        Ok(out) => out,
        Err(d) => panic!("run failed: {}", d.message),
    }
}

pub fn f32s(shape: &[u64], v: &[f32]) -> Tensor {
    Tensor { elem: ElemType::F32, shape: shape.to_vec(), data: TensorData::F32(v.to_vec()) }
}

pub fn i64s(shape: &[u64], v: &[i64]) -> Tensor {
    Tensor { elem: ElemType::I64, shape: shape.to_vec(), data: TensorData::Int(v.to_vec()) }
}

/// The f32 values of a tensor.
pub fn values(t: &Tensor) -> Vec<f32> {
    match &t.data {
        TensorData::F32(v) => v.clone(),
        other => panic!("not f32: {other:?}"),
    }
}

pub fn assert_close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-5 * w.abs().max(1.0), "{got:?} vs {want:?}");
    }
}

/// The printed module.
pub fn text(m: &Module) -> String {
    weft_ir::printer::print_module(m)
}
