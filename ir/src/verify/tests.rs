//! Tests of the verifier: one or more per check, on IR built with the API
//! (as a pass would build it, including wrongly).

use super::*;
use crate::attr::{Attribute, DenseAttr};
use crate::entity::EntityRef;
use crate::location::{FileId, Location, Span};
use crate::module::NewOp;
use crate::ops::{builtin, nn, Arity, OpDef, OpInfo};
use crate::resources::{Resource, Resources};
use crate::tensor::TensorData;
use crate::types::{Dim, ElemType, QuantInt, QuantParams, TensorType, Type};

fn ty(shape: &[u64]) -> Type {
    Type::Tensor(TensorType::fixed(shape, ElemType::F32))
}

fn span(start: usize) -> Span {
    Span::new(FileId(0), start, start + 1)
}

fn dense(shape: &[u64], data: TensorData) -> Attribute {
    Attribute::Dense(DenseAttr { ty: TensorType::fixed(shape, ElemType::F32), data })
}

/// Builds a function op by op; each op gets span `n..n+1` for the `n`-th op.
struct Builder {
    f: Function,
    next: usize,
}

impl Builder {
    fn new(args: &[Type], results: &[Type]) -> Builder {
        Builder { f: Function::new("main", args.to_vec(), results.to_vec()), next: 0 }
    }

    fn arg(&self, i: usize) -> Value {
        self.f.args()[i]
    }

    fn op(&mut self, spec: NewOp) -> Op {
        self.next += 1;
        let loc = Location::Name(format!("node{}", self.next));
        let body = self.f.body;
        self.f.append_op(body, NewOp { span: span(self.next), loc, ..spec })
    }

    fn res(&self, op: Op) -> Value {
        self.f.ops[op].results[0]
    }

    fn constant(&mut self, shape: &[u64]) -> Value {
        let c = self.op(NewOp::new(&builtin::CONSTANT, vec![], vec![ty(shape)])
            .attr("value", dense(shape, TensorData::F32(vec![1.0]))));
        self.res(c)
    }

    fn ret(&mut self, values: Vec<Value>) -> Op {
        self.op(NewOp::new(&builtin::RETURN, values, vec![]))
    }

    fn module(self) -> Module {
        Module { funcs: vec![self.f], ..Default::default() }
    }
}

/// `%c = constant; %x = add(%arg0, %c); %y = relu(%x); return %y`.
fn valid() -> (Builder, [Op; 3]) {
    let mut b = Builder::new(&[ty(&[4])], &[ty(&[4])]);
    let c = b.constant(&[4]);
    let x = b.op(NewOp::new(&nn::ADD, vec![b.arg(0), c], vec![ty(&[4])]));
    let y = b.op(NewOp::new(&nn::RELU, vec![b.res(x)], vec![ty(&[4])]));
    let ret = b.ret(vec![b.res(y)]);
    (b, [x, y, ret])
}

fn errors(m: &Module) -> Vec<Diagnostic> {
    match verify_module(m) {
        Ok(()) => Vec::new(),
        Err(d) => {
            assert!(!d.is_empty(), "Err carries at least one diagnostic");
            d
        }
    }
}

fn messages(m: &Module) -> Vec<String> {
    errors(m).into_iter().map(|d| d.message).collect()
}

#[test]
fn valid_function_verifies() {
    let (b, _) = valid();
    assert_eq!(verify_module(&b.module()), Ok(()));
}

#[test]
fn arity_errors_name_the_op() {
    let (mut b, [x, ..]) = valid();
    let extra = b.arg(0);
    b.f.ops[x].operands.push(extra);
    assert_eq!(messages(&b.module()), ["'nn.add' op expects 2 operands, got 3"]);

    let mut b = Builder::new(&[ty(&[4])], &[]);
    b.op(NewOp::new(&nn::RELU, vec![b.arg(0)], vec![]));
    b.ret(vec![]);
    assert_eq!(messages(&b.module()), ["'nn.relu' op expects 1 result, got 0"]);
}

#[test]
fn errors_carry_span_and_loc() {
    let (mut b, [x, ..]) = valid();
    let extra = b.arg(0);
    b.f.ops[x].operands.push(extra);
    let d = &errors(&b.module())[0];
    assert_eq!(d.span, span(2));
    assert_eq!(d.loc, Location::Name("node2".into()));
}

#[test]
fn all_errors_are_collected_in_op_order() {
    let (mut b, [x, y, _]) = valid();
    let extra = b.arg(0);
    b.f.ops[y].operands.push(extra);
    b.f.ops[x].attrs.insert("bogus".into(), Attribute::Int(1));
    assert_eq!(
        messages(&b.module()),
        ["'nn.add' op has unknown attribute 'bogus'", "'nn.relu' op expects 1 operand, got 2"]
    );
}

#[test]
fn attribute_schema() {
    let mut b = Builder::new(&[ty(&[2, 3])], &[ty(&[3, 2])]);
    let t = b.op(NewOp::new(&nn::TRANSPOSE, vec![b.arg(0)], vec![ty(&[3, 2])]));
    b.ret(vec![b.res(t)]);
    let mut m = b.module();
    let d = errors(&m);
    assert_eq!(d.len(), 1, "the inference hook must not run without 'perm': {d:?}");
    assert_eq!(d[0].message, "'nn.transpose' op requires attribute 'perm'");

    m.funcs[0].ops[t].attrs.insert("prem".into(), Attribute::Array(vec![Attribute::Int(1), Attribute::Int(0)]));
    let d = errors(&m);
    assert_eq!(d[1].message, "'nn.transpose' op has unknown attribute 'prem'");
    assert_eq!(d[1].notes[0].message, "did you mean 'perm'?");

    m.funcs[0].ops[t].attrs.clear();
    m.funcs[0].ops[t].attrs.insert("perm".into(), Attribute::Str("1,0".into()));
    assert_eq!(messages(&m), ["'nn.transpose' op attribute 'perm' must be an array of integers, got string"]);

    m.funcs[0].ops[t].attrs.insert("perm".into(), Attribute::Array(vec![Attribute::Int(1), Attribute::Int(0)]));
    assert_eq!(verify_module(&m), Ok(()));
}

#[test]
fn unknown_attribute_without_close_name_lists_accepted_ones() {
    let (mut b, [x, ..]) = valid();
    b.f.ops[x].attrs.insert("transpose_b".into(), Attribute::Bool(true));
    let d = errors(&b.module());
    assert_eq!(d[0].notes[0].message, "'nn.add' takes no attributes");
}

#[test]
fn softmax_without_axis_does_not_reach_its_hook() {
    let mut b = Builder::new(&[ty(&[1, 4])], &[ty(&[1, 4])]);
    let s = b.op(NewOp::new(&nn::SOFTMAX, vec![b.arg(0)], vec![ty(&[1, 4])]));
    b.ret(vec![b.res(s)]);
    let mut m = b.module();
    assert_eq!(messages(&m), ["'nn.softmax' op requires attribute 'axis'"]);
    m.funcs[0].ops[s].attrs.insert("axis".into(), Attribute::Float(1.0));
    assert_eq!(messages(&m), ["'nn.softmax' op attribute 'axis' must be an integer, got float"]);
}

#[test]
fn values_must_be_tensors() {
    let mut b = Builder::new(&[Type::Elem(ElemType::F32)], &[]);
    let r = b.op(NewOp::new(&nn::RELU, vec![b.arg(0)], vec![Type::Elem(ElemType::F32)]));
    b.op(NewOp::new(&nn::NEG, vec![b.res(r)], vec![ty(&[4])]));
    b.ret(vec![]);
    assert_eq!(
        messages(&b.module()),
        ["function '@main' argument #0 must be a tensor, got f32", "'nn.relu' op result #0 must be a tensor, got f32"]
    );
}

#[test]
fn types_must_be_well_formed() {
    let q = ElemType::Quant(Box::new(QuantInt {
        width: 8,
        signed: true,
        params: QuantParams::PerChannel { axis: 0, scales: vec![0.5, 0.25], zps: vec![0] },
    }));
    let bad = Type::Tensor(TensorType::fixed(&[2], q));
    let mut b = Builder::new(&[bad], &[]);
    b.ret(vec![]);
    assert_eq!(
        messages(&b.module()),
        ["function '@main' argument #0 has an invalid type tensor<2x!quant.int<w=8, signed, axis=0, scales=[0.5, 0.25], \
          zps=[0]>>: 2 scales but 1 zero point"]
    );
    let wide = Type::Tensor(TensorType::fixed(&[2], ElemType::Int { width: 65, signed: true }));
    let mut b = Builder::new(&[], &[wide]);
    b.ret(vec![]);
    let msgs = messages(&b.module());
    assert_eq!(
        msgs[0],
        "function '@main' result #0 has an invalid type tensor<2xi65>: integer width 65 is outside 1..=64"
    );
}

#[test]
fn use_before_definition() {
    let (mut b, [x, y, ret]) = valid();
    let body = b.f.body;
    let c = b.f.blocks[body].ops[0];
    b.f.blocks[body].ops = vec![c, y, x, ret];
    let d = errors(&b.module());
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].message, "'nn.relu' op operand #0 is used before it is defined");
    assert_eq!(d[0].span, span(3));
    assert_eq!(d[0].notes[0].span, span(2), "points at the definition");
}

#[test]
fn own_result_and_removed_definitions() {
    let (mut b, [_, y, _]) = valid();
    let own = b.res(y);
    b.f.ops[y].operands[0] = own;
    assert_eq!(messages(&b.module()), ["'nn.relu' op operand #0 is a result of the op itself"]);

    let (mut b, ..) = valid();
    let body = b.f.body;
    let c = b.f.blocks[body].ops[0];
    b.f.remove_ops(&[c]);
    assert_eq!(
        messages(&b.module()),
        ["'nn.add' op operand #1 is a result of a 'builtin.constant' op that was removed from the IR"]
    );
}

/// An op with one region, for tests (no dialect has one yet).
static WRAP: OpDef = OpDef {
    name: "test.wrap",
    operands: Arity::Variadic { name: "inputs", min: 0 },
    results: Arity::Variadic { name: "outputs", min: 0 },
    ..OpDef::DEFAULT
};

/// `%w = test.wrap { ^bb(%r: T): %n = nn.neg %arg0 }; return`, with the
/// region op, its region block and the inner op.
fn with_region() -> (Builder, Op, Block, Op) {
    let mut b = Builder::new(&[ty(&[4])], &[]);
    let w = b.op(NewOp::new(&WRAP, vec![], vec![ty(&[4])]));
    let region = b.f.new_region_block(w);
    b.f.ops[w].regions.push(region);
    b.f.add_block_arg(region, ty(&[4]), Span::NONE);
    let a = b.arg(0);
    let inner = b.f.append_op(region, NewOp::new(&nn::NEG, vec![a], vec![ty(&[4])]));
    b.ret(vec![]);
    (b, w, region, inner)
}

#[test]
fn regions_see_enclosing_values_but_not_the_reverse() {
    let (b, ..) = with_region();
    assert_eq!(verify_module(&b.module()), Ok(()));

    let (mut b, _, region, inner) = with_region();
    let inner_value = b.res(inner);
    let region_arg = b.f.blocks[region].args[0];
    let ret = b.f.terminator().expect("has a return");
    b.f.ops[ret].operands = vec![inner_value, region_arg];
    b.f.results = vec![ty(&[4]), ty(&[4])];
    assert_eq!(
        messages(&b.module()),
        [
            "'builtin.return' op operand #0 does not dominate this use",
            "'builtin.return' op operand #1 is an argument of a block that does not enclose this use",
        ]
    );
}

#[test]
fn region_cannot_use_its_parents_results() {
    let (mut b, w, _, inner) = with_region();
    let wv = b.res(w);
    b.f.ops[inner].operands[0] = wv;
    assert_eq!(messages(&b.module()), ["'nn.neg' op operand #0 is used before it is defined"]);
}

#[test]
fn return_inside_a_region_is_an_error() {
    let (mut b, _, region, _) = with_region();
    b.f.append_op(region, NewOp::new(&builtin::RETURN, vec![], vec![]));
    assert_eq!(
        messages(&b.module()),
        ["'builtin.return' op must be in a function body, not in a region of 'test.wrap'"]
    );
}

#[test]
fn shape_inference_must_agree() {
    let mut b = Builder::new(&[ty(&[4]), ty(&[3])], &[]);
    b.op(NewOp::new(&nn::ADD, vec![b.arg(0), b.arg(0)], vec![ty(&[3])]));
    b.op(NewOp::new(&nn::ADD, vec![b.arg(0), b.arg(1)], vec![ty(&[4])]));
    b.ret(vec![]);
    assert_eq!(
        messages(&b.module()),
        [
            "'nn.add' op result #0 has type tensor<3xf32>, but shape inference gives tensor<4xf32>",
            "'nn.add' op dimensions 4 and 3 do not broadcast",
        ]
    );
}

#[test]
fn declared_and_inferred_types_must_be_compatible() {
    let dynamic = Type::Tensor(TensorType::new(vec![Dim::Dyn], ElemType::F32));
    let mut b = Builder::new(std::slice::from_ref(&dynamic), &[]);
    b.op(NewOp::new(&nn::RELU, vec![b.arg(0)], vec![ty(&[4])]));
    b.op(NewOp::new(&nn::RELU, vec![b.arg(0)], vec![dynamic.clone()]));
    b.ret(vec![]);
    assert_eq!(verify_module(&b.module()), Ok(()), "declared more precise than inferred");

    let mut b = Builder::new(&[ty(&[4])], &[]);
    b.op(NewOp::new(&nn::RELU, vec![b.arg(0)], vec![dynamic]));
    b.ret(vec![]);
    assert_eq!(verify_module(&b.module()), Ok(()), "declared less precise than inferred");

    let mut b = Builder::new(&[ty(&[4])], &[]);
    b.op(NewOp::new(&nn::RELU, vec![b.arg(0)], vec![ty(&[5])]));
    b.ret(vec![]);
    assert_eq!(
        messages(&b.module()),
        ["'nn.relu' op result #0 has type tensor<5xf32>, but shape inference gives tensor<4xf32>"]
    );
}

fn three_results(_: &OpInfo) -> Result<Vec<Type>, String> {
    Ok(vec![ty(&[4]), ty(&[1]), ty(&[1])])
}

static OPTIONAL_OUTPUTS: OpDef = OpDef {
    name: "test.optional_outputs",
    operands: Arity::Fixed(&["input"]),
    results: Arity::Variadic { name: "outputs", min: 1 },
    infer: Some(three_results),
    ..OpDef::DEFAULT
};

#[test]
fn variadic_results_may_be_a_prefix_of_the_inferred_ones() {
    let mut b = Builder::new(&[ty(&[4])], &[]);
    b.op(NewOp::new(&OPTIONAL_OUTPUTS, vec![b.arg(0)], vec![ty(&[4])]));
    b.op(NewOp::new(&OPTIONAL_OUTPUTS, vec![b.arg(0)], vec![ty(&[4]), ty(&[1]), ty(&[1])]));
    b.op(NewOp::new(&OPTIONAL_OUTPUTS, vec![b.arg(0)], vec![ty(&[4]), ty(&[2])]));
    b.op(NewOp::new(&OPTIONAL_OUTPUTS, vec![b.arg(0)], vec![ty(&[4]), ty(&[1]), ty(&[1]), ty(&[1])]));
    b.ret(vec![]);
    assert_eq!(
        messages(&b.module()),
        [
            "'test.optional_outputs' op result #1 has type tensor<2xf32>, but shape inference gives tensor<1xf32>",
            "'test.optional_outputs' op has 4 results, but shape inference gives 3 results",
        ]
    );
}

fn always_fails(_: &OpInfo) -> Result<(), String> {
    Err("operand must be positive".into())
}

fn panics(info: &OpInfo) -> Result<Vec<Type>, String> {
    let _ = info.operand_types[7];
    Ok(vec![])
}

static CHECKED: OpDef =
    OpDef { name: "test.checked", operands: Arity::Fixed(&["input"]), verify: Some(always_fails), ..OpDef::DEFAULT };

static BROKEN: OpDef =
    OpDef { name: "test.broken", operands: Arity::Fixed(&["input"]), infer: Some(panics), ..OpDef::DEFAULT };

#[test]
fn verify_hook_errors_and_hook_panics_are_reported() {
    let mut b = Builder::new(&[ty(&[4])], &[]);
    b.op(NewOp::new(&CHECKED, vec![b.arg(0)], vec![]));
    b.op(NewOp::new(&BROKEN, vec![b.arg(0)], vec![]));
    b.ret(vec![]);
    let msgs = messages(&b.module());
    assert_eq!(msgs[0], "'test.checked' op operand must be positive");
    assert!(
        msgs[1].starts_with("'test.broken' op internal error: its shape inference hook panicked: index out of bounds")
    );
}

fn result_must_match_operand(info: &OpInfo, results: &[&Type]) -> Result<(), String> {
    match results.first() {
        Some(&r) if r == info.operand_types[0] => Ok(()),
        _ => Err("result must have the operand's type".into()),
    }
}

static RESULT_CHECKED: OpDef = OpDef {
    name: "test.result_checked",
    operands: Arity::Fixed(&["input"]),
    results: Arity::Fixed(&["result"]),
    verify_results: Some(result_must_match_operand),
    ..OpDef::DEFAULT
};

#[test]
fn result_verify_hook_sees_the_declared_result_types() {
    let mut b = Builder::new(&[ty(&[4])], &[]);
    b.op(NewOp::new(&RESULT_CHECKED, vec![b.arg(0)], vec![ty(&[4])]));
    b.op(NewOp::new(&RESULT_CHECKED, vec![b.arg(0)], vec![ty(&[5])]));
    b.ret(vec![]);
    assert_eq!(messages(&b.module()), ["'test.result_checked' op result must have the operand's type"]);
}

#[test]
fn terminators() {
    let mut b = Builder::new(&[ty(&[4])], &[ty(&[4])]);
    b.op(NewOp::new(&nn::RELU, vec![b.arg(0)], vec![ty(&[4])]));
    let d = errors(&b.module());
    assert_eq!(d[0].message, "function '@main' must end with 'builtin.return'");
    assert_eq!(d[0].notes[0].message, "the last op is 'nn.relu'");

    let b = Builder::new(&[], &[]);
    assert_eq!(messages(&b.module()), ["function '@main' must end with 'builtin.return'; its body is empty"]);

    let (mut b, [x, y, _]) = valid();
    let xv = b.res(x);
    b.f.insert_op_before(y, NewOp::new(&builtin::RETURN, vec![xv], vec![]));
    assert_eq!(messages(&b.module()), ["'builtin.return' op must be the last op of its block"]);
}

#[test]
fn return_matches_the_signature() {
    let (mut b, [x, _, ret]) = valid();
    let xv = b.res(x);
    b.f.ops[ret].operands.push(xv);
    assert_eq!(messages(&b.module()), ["'builtin.return' op returns 2 values, but function '@main' has 1 result"]);

    let (mut b, ..) = valid();
    b.f.results = vec![Type::Tensor(TensorType::fixed(&[4], ElemType::F16))];
    assert_eq!(
        messages(&b.module()),
        ["'builtin.return' op operand #0 has type tensor<4xf32>, but function '@main' result #0 is tensor<4xf16>"]
    );
}

fn resource_module(resources: Resources, declared: &[u64]) -> Module {
    let mut b = Builder::new(&[], &[]);
    let attr = Attribute::Resource { name: "enc.w".into(), ty: TensorType::fixed(declared, ElemType::F32) };
    b.op(NewOp::new(&builtin::CONSTANT, vec![], vec![ty(declared)]).attr("value", attr));
    b.ret(vec![]);
    Module { resources, ..b.module() }
}

fn weights(name: &str, shape: &[u64]) -> Resources {
    let n: u64 = shape.iter().product();
    let mut r = Resources::new();
    let bytes = vec![0u8; 4 * n as usize];
    r.insert(name, Resource::new(ElemType::F32, shape.to_vec(), bytes).expect("valid resource"));
    r
}

#[test]
fn resources_must_exist_and_match() {
    let m = resource_module(Resources::new(), &[2, 2]);
    let d = errors(&m);
    assert_eq!(d[0].message, "'builtin.constant' op unknown resource 'enc.w'");
    assert!(d[0].notes[0].message.starts_with("no resources are loaded"));

    let m = resource_module(weights("enc.W", &[2, 2]), &[2, 2]);
    let d = errors(&m);
    assert_eq!(d[0].message, "'builtin.constant' op unknown resource 'enc.w'");
    let notes: Vec<&str> = d[0].notes.iter().map(|n| n.message.as_str()).collect();
    assert_eq!(notes, ["1 resource is loaded", "did you mean 'enc.W'?"]);

    let m = resource_module(weights("enc.w", &[2, 3]), &[2, 2]);
    assert_eq!(
        messages(&m),
        ["'builtin.constant' op resource 'enc.w' is declared as tensor<2x2xf32>, but the resource file holds \
          tensor<2x3xf32>"]
    );

    assert_eq!(verify_module(&resource_module(weights("enc.w", &[2, 2]), &[2, 2])), Ok(()));
}

#[test]
fn dense_attributes_hold_one_or_all_elements() {
    let mut b = Builder::new(&[], &[]);
    let bad = dense(&[2, 3], TensorData::F32(vec![1.0; 5]));
    b.op(NewOp::new(&builtin::CONSTANT, vec![], vec![ty(&[2, 3])]).attr("value", bad));
    let wrong_kind = dense(&[2], TensorData::F64(vec![1.0, 2.0]));
    b.op(NewOp::new(&builtin::CONSTANT, vec![], vec![ty(&[2])]).attr("value", wrong_kind));
    let dynamic = TensorType::new(vec![Dim::Dyn], ElemType::F32);
    let not_static = Attribute::Dense(DenseAttr { ty: dynamic.clone(), data: TensorData::F32(vec![1.0]) });
    b.op(NewOp::new(&builtin::CONSTANT, vec![], vec![Type::Tensor(dynamic)]).attr("value", not_static));
    b.constant(&[2, 3]);
    b.ret(vec![]);
    assert_eq!(
        messages(&b.module()),
        [
            "'builtin.constant' op attribute 'value' holds 5 elements, but tensor<2x3xf32> needs 6 (or 1 for a splat)",
            "'builtin.constant' op attribute 'value' stores f64 data for element type f32",
            "'builtin.constant' op attribute 'value' has type tensor<?xf32>, but dense data needs a static shape",
        ]
    );
}

#[test]
fn structural_errors_stop_the_function_without_panicking() {
    let (mut b, [x, ..]) = valid();
    b.f.ops[x].operands[0] = Value::new(1000);
    b.f.ops[x].regions.push(Block::new(55));
    let body = b.f.body;
    b.f.blocks[body].ops.insert(0, Op::new(99));
    assert_eq!(
        messages(&b.module()),
        [
            "function '@main': block bb0 lists op99, which is not in the op arena",
            "'nn.add' op operand #0 refers to v1000, which is not in the value arena",
            "'nn.add' op region #0 refers to bb55, which is not in the block arena",
        ]
    );
}

#[test]
fn ops_are_listed_once_in_their_own_block() {
    let (mut b, [x, ..]) = valid();
    let body = b.f.body;
    b.f.blocks[body].ops.insert(2, x);
    assert_eq!(messages(&b.module()), ["'nn.add' op (op1) is listed more than once in the function"]);

    let (mut b, _, region, inner) = with_region();
    b.f.ops[inner].block = b.f.body;
    assert_eq!(
        messages(&b.module()),
        [format!("'nn.neg' op (op1) is listed in block {region} but records block bb0 as its own")]
    );

    let (mut b, w, region, _) = with_region();
    b.f.ops[w].regions.push(region);
    assert_eq!(
        messages(&b.module()),
        ["'test.wrap' op region #1 (bb1) is already the body or a region elsewhere in the function"]
    );
}

#[test]
fn value_definitions_must_agree() {
    let (mut b, [x, y, _]) = valid();
    let xv = b.res(x);
    b.f.ops[y].results[0] = xv;
    let msgs = messages(&b.module());
    assert!(
        msgs.contains(&"'nn.relu' op result #0 (v2) records its definition as result #0 of op1".to_string()),
        "{msgs:?}"
    );
}

#[test]
fn duplicate_function_names() {
    let (a, _) = valid();
    let (b, _) = valid();
    let m = Module { funcs: vec![a.f, b.f], ..Default::default() };
    assert_eq!(messages(&m), ["redefinition of function '@main'"]);
}

/// Corrupts handles at random (a fixed seed) and checks the verifier
/// reports errors instead of panicking.
#[test]
fn random_corruption_never_panics() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for _ in 0..2000 {
        let (mut b, _, _, _) = with_region();
        let (ops, values, blocks) = (b.f.ops.len() + 2, b.f.values.len() + 2, b.f.blocks.len() + 2);
        for _ in 0..1 + next(3) {
            let op = Op::new(next(ops - 2));
            match next(9) {
                0 => b.f.ops[op].operands.push(Value::new(next(values))),
                1 => b.f.ops[op].results.push(Value::new(next(values))),
                2 => b.f.ops[op].regions.push(Block::new(next(blocks))),
                3 => b.f.ops[op].block = Block::new(next(blocks)),
                4 => {
                    let blk = Block::new(next(blocks - 2));
                    b.f.blocks[blk].ops.push(Op::new(next(ops)));
                }
                5 => {
                    let blk = Block::new(next(blocks - 2));
                    b.f.blocks[blk].parent = Some(Op::new(next(ops)));
                }
                // Valid handles in the wrong places: reach the later phases.
                6 => {
                    let v = Value::new(next(values - 2));
                    if let Some(slot) = b.f.ops[op].operands.first_mut() {
                        *slot = v;
                    }
                }
                7 => {
                    let body = b.f.body;
                    let n = b.f.blocks[body].ops.len();
                    b.f.blocks[body].ops.swap(next(n), next(n));
                }
                _ => {
                    let v = Value::new(next(values - 2));
                    b.f.values[v].ty = if next(2) == 0 { Type::Elem(ElemType::I8) } else { ty(&[next(3) as u64]) };
                }
            }
        }
        let _ = crate::graph::toposort(&b.f);
        let m = b.module();
        let _ = verify_module(&m);
        let _ = crate::graph::to_dot(&m);
    }
}
