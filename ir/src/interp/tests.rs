//! Tests of the interpreter on nn programs parsed from text.

use super::*;
use crate::ops::{Arity, Dialect};
use crate::parser::parse_str;
use crate::resources::{Resource, Resources};
use crate::tensor::TensorData;
use crate::types::ElemType;
use crate::{Context, SourceMap};

fn parse_in(ctx: &Context, text: &str) -> (SourceMap, Module) {
    let (sources, m) = parse_str(ctx, "test.weft", text);
    match m {
        Ok(m) => (sources, m),
        Err(d) => panic!("{}", crate::diag::render_all(&d, &sources)),
    }
}

fn parse(text: &str) -> (SourceMap, Module) {
    parse_in(&Context::default(), text)
}

fn f32s(shape: &[u64], values: &[f32]) -> Tensor {
    Tensor { elem: ElemType::F32, shape: shape.to_vec(), data: TensorData::F32(values.to_vec()) }
}

fn i32s(shape: &[u64], values: &[i64]) -> Tensor {
    Tensor { elem: ElemType::I32, shape: shape.to_vec(), data: TensorData::Int(values.to_vec()) }
}

fn run(m: &Module, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, Diagnostic> {
    run_function(m, &m.funcs[0], inputs)
}

const LINEAR: &str = "func @f(%x: tensor<[batch]x2xf32>, %w: tensor<2x3xf32>) -> tensor<[batch]x3xf32> {
  %b = constant dense<[0.5, -1.0, 2.0]> : tensor<3xf32>
  %0 = nn.matmul %x, %w : (tensor<[batch]x2xf32>, tensor<2x3xf32>) -> tensor<[batch]x3xf32>
  %1 = nn.add %0, %b : (tensor<[batch]x3xf32>, tensor<3xf32>) -> tensor<[batch]x3xf32>
  %2 = nn.relu %1 : tensor<[batch]x3xf32>
  return %2 : tensor<[batch]x3xf32>
}
";

#[test]
fn runs_a_linear_layer() {
    let (_, m) = parse(LINEAR);
    let x = f32s(&[2, 2], &[1.0, 2.0, -1.0, 0.0]);
    let w = f32s(&[2, 3], &[1.0, 0.0, -1.0, 0.5, 1.0, 2.0]);
    let out = run(&m, vec![x, w]).unwrap();
    // x @ w = [[2, 2, 3], [-1, 0, 1]]; + b = [[2.5, 1, 5], [-0.5, -1, 3]]; relu.
    assert_eq!(out, vec![f32s(&[2, 3], &[2.5, 1.0, 5.0, 0.0, 0.0, 3.0])]);
}

#[test]
fn inputs_are_checked_against_the_arguments() {
    let (_, m) = parse(LINEAR);
    let w = f32s(&[2, 3], &[0.0; 6]);
    let count = run(&m, vec![w.clone()]).unwrap_err();
    assert_eq!(count.message, "function '@f' takes 2 inputs, got 1");
    let rank = run(&m, vec![f32s(&[4], &[0.0; 4]), w.clone()]).unwrap_err();
    assert_eq!(rank.message, "input #0 ('arg0') of '@f' has rank 1 (shape 4), but tensor<[batch]x2xf32> has rank 2");
    let elem = run(&m, vec![i32s(&[1, 2], &[1, 2]), w.clone()]).unwrap_err();
    assert_eq!(elem.message, "input #0 ('arg0') of '@f' has element type i32, but f32 is expected");
    let dim = run(&m, vec![f32s(&[1, 2], &[0.0; 2]), f32s(&[3, 3], &[0.0; 9])]).unwrap_err();
    assert_eq!(dim.message, "input #1 ('arg1') of '@f' has extent 3 in dimension 0, but tensor<2x3xf32> needs 2");
    let malformed = run(&m, vec![f32s(&[1, 2], &[0.0; 3]), w]).unwrap_err();
    assert!(
        malformed.message.contains("is malformed: shape 1x2 needs 2 elements, it holds 3"),
        "{}",
        malformed.message
    );
}

#[test]
fn symbolic_dims_bind_across_inputs_and_use_input_names() {
    let (_, mut m) = parse(
        "func @f(%a: tensor<[batch]xf32>, %b: tensor<[batch]xf32>) -> tensor<[batch]xf32> {
  %0 = nn.add %a, %b : tensor<[batch]xf32>
  return %0 : tensor<[batch]xf32>
}
",
    );
    let names = Attribute::Array(vec![Attribute::Str("ids".into()), Attribute::Str("mask".into())]);
    m.funcs[0].attrs.insert(INPUT_NAMES_ATTR.into(), names);
    assert_eq!(input_names(&m.funcs[0]), ["ids", "mask"]);
    assert_eq!(output_names(&m.funcs[0]), ["result0"]);
    let err = run(&m, vec![f32s(&[2], &[1.0, 2.0]), f32s(&[3], &[1.0; 3])]).unwrap_err();
    assert_eq!(
        err.message,
        "input #1 ('mask') of '@f' has extent 3 in dimension 0, but [batch] is 2 (bound by input #0 ('ids') of '@f')"
    );
    let ok = run(&m, vec![f32s(&[2], &[1.0, 2.0]), f32s(&[2], &[3.0, 4.0])]).unwrap();
    assert_eq!(ok, vec![f32s(&[2], &[4.0, 6.0])]);
}

#[test]
fn eval_errors_are_located_at_the_op() {
    let text = "func @f(%a: tensor<2xi32>, %b: tensor<2xi32>) -> tensor<2xi32> {
  %0 = nn.div %a, %b : tensor<2xi32> loc(\"layer0/div\")
  return %0 : tensor<2xi32>
}
";
    let (sources, m) = parse(text);
    let err = run(&m, vec![i32s(&[2], &[4, 9]), i32s(&[2], &[2, 0])]).unwrap_err();
    assert_eq!(err.message, "'nn.div' op: integer division by zero");
    assert_eq!(err.loc, crate::Location::Name("layer0/div".into()));
    assert_eq!(err.position(&sources), Some(("test.weft".to_string(), 2, 3)));
    let ok = run(&m, vec![i32s(&[2], &[-7, 9]), i32s(&[2], &[2, 3])]).unwrap();
    assert_eq!(ok, vec![i32s(&[2], &[-3, 3])]);
}

#[test]
fn resources_feed_constants_with_the_declared_element_type() {
    let text = "func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
  %w = constant dense_resource<layer.w> : tensor<2xf32>
  %0 = nn.mul %x, %w : tensor<2xf32>
  return %0 : tensor<2xf32>
}
";
    let (_, mut m) = parse(text);
    let err = run(&m, vec![f32s(&[2], &[1.0, 2.0])]).unwrap_err();
    assert_eq!(err.message, "'builtin.constant' op: unknown resource 'layer.w'");
    let mut res = Resources::new();
    res.insert("layer.w", Resource::from_tensor(&f32s(&[2], &[3.0, -1.0])).unwrap());
    m.resources = res;
    assert_eq!(run(&m, vec![f32s(&[2], &[1.0, 2.0])]).unwrap(), vec![f32s(&[2], &[3.0, -2.0])]);
}

#[test]
fn values_are_freed_after_their_last_use() {
    let mut text = String::from("func @f(%x: tensor<4xf32>) -> tensor<4xf32> {\n  %v0 = nn.neg %x : tensor<4xf32>\n");
    for i in 1..40 {
        text.push_str(&format!("  %v{i} = nn.add %v{}, %v{} : tensor<4xf32>\n", i - 1, i - 1));
    }
    text.push_str("  return %v39 : tensor<4xf32>\n}\n");
    let (_, m) = parse(&text);
    let mut max_live = 0;
    let mut ops = 0;
    let mut on_op = |e: &OpEvent| {
        max_live = max_live.max(e.live);
        ops += 1;
        assert_eq!(e.results.len(), 1);
    };
    let options = RunOptions { on_op: Some(&mut on_op) };
    let out = run_function_with(&m, &m.funcs[0], vec![f32s(&[4], &[1.0, 0.0, -1.0, 0.5])], options).unwrap();
    assert_eq!(ops, 40);
    assert_eq!(max_live, 0, "nothing but the current op's operands should be held");
    let scale = (1u64 << 39) as f32;
    assert_eq!(out, vec![f32s(&[4], &[-scale, 0.0, scale, -0.5 * scale])]);
}

#[test]
fn unused_values_and_inputs_are_not_held() {
    let text = "func @f(%x: tensor<2xf32>, %unused: tensor<2xf32>) -> tensor<2xf32> {
  %dead = nn.exp %x : tensor<2xf32>
  %0 = nn.neg %x : tensor<2xf32>
  %1 = nn.neg %0 : tensor<2xf32>
  return %1 : tensor<2xf32>
}
";
    let (_, m) = parse(text);
    let mut live = Vec::new();
    let mut on_op = |e: &OpEvent| live.push(e.live);
    let inputs = vec![f32s(&[2], &[1.0, 2.0]), f32s(&[2], &[0.0, 0.0])];
    run_function_with(&m, &m.funcs[0], inputs, RunOptions { on_op: Some(&mut on_op) }).unwrap();
    // exp: x is still needed by neg; neg: nothing else; neg: nothing.
    assert_eq!(live, [1, 0, 0]);
}

const NO_EVAL: OpDef =
    OpDef { name: "test.opaque", operands: Arity::Fixed(&["x"]), results: Arity::Fixed(&["y"]), ..OpDef::DEFAULT };
const PANICS: OpDef = OpDef {
    name: "test.panics",
    operands: Arity::Fixed(&["x"]),
    results: Arity::Fixed(&["y"]),
    eval: Some(|ops, _, _| {
        let v: Vec<u8> = Vec::new();
        Ok(vec![ops[0].clone(); v[ops.len()] as usize])
    }),
    ..OpDef::DEFAULT
};
const WRONG_SHAPE: OpDef = OpDef {
    name: "test.wrong_shape",
    operands: Arity::Fixed(&["x"]),
    results: Arity::Fixed(&["y"]),
    eval: Some(|ops, _, _| Ok(vec![Tensor { shape: vec![1, 2], ..ops[0].clone() }])),
    ..OpDef::DEFAULT
};
static TEST_DIALECT: Dialect =
    Dialect { name: "test", summary: "", description: "", ops: &[NO_EVAL, PANICS, WRONG_SHAPE] };

fn run_test_op(name: &str) -> Diagnostic {
    let mut ctx = Context::default();
    ctx.register(&TEST_DIALECT);
    let text = format!(
        "func @f(%x: tensor<2xf32>) -> tensor<2xf32> {{\n  %0 = \"{name}\"(%x) : (tensor<2xf32>) -> tensor<2xf32>\n  return %0 : tensor<2xf32>\n}}\n"
    );
    let (_, m) = parse_in(&ctx, &text);
    run(&m, vec![f32s(&[2], &[1.0, 2.0])]).unwrap_err()
}

#[test]
fn ops_without_eval_panicking_evals_and_wrong_results_are_errors() {
    assert_eq!(
        run_test_op("test.opaque").message,
        "'test.opaque' op: has no reference semantics (no eval), so the interpreter cannot run it"
    );
    let panicked = run_test_op("test.panics").message;
    assert!(panicked.starts_with("'test.panics' op: internal error: eval panicked: index out of bounds"), "{panicked}");
    assert_eq!(
        run_test_op("test.wrong_shape").message,
        "'test.wrong_shape' op: result #0 has rank 2 (shape 1x2), but tensor<2xf32> has rank 1"
    );
}

#[test]
fn malformed_functions_are_errors_not_panics() {
    let (_, mut m) = parse(LINEAR);
    // Drop the terminator: the body ends without return.
    let f = &mut m.funcs[0];
    let body = f.body;
    f.blocks[body].ops.pop();
    let x = f32s(&[1, 2], &[1.0, 2.0]);
    let w = f32s(&[2, 3], &[0.0; 6]);
    let err = run(&m, vec![x.clone(), w.clone()]).unwrap_err();
    assert_eq!(err.message, "function '@f' has no 'return' at the end of its body");
    // Use a value before its definition.
    let f = &mut m.funcs[0];
    f.blocks[body].ops.swap(1, 2);
    let err = run(&m, vec![x, w]).unwrap_err();
    assert!(err.message.starts_with("'nn.add' op: operand v"), "{}", err.message);
    assert!(err.message.ends_with("is used before it is defined"), "{}", err.message);
}
