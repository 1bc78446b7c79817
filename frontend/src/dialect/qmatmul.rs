//! ONNX integer matrix products: `MatMulInteger` (i32 result) and
//! `QLinearMatMul` (requantized result), with numpy `matmul` geometry.
//!
//! Invariants: `(a - a_zp) * (b - b_zp)` products are exact and summed
//! with wrapping in i32, as the ONNX spec allows; zero points and scales
//! are per tensor, per row of A or per column of B, resolved by
//! [`RowParam`]/[`ColParam`] before any arithmetic.

use super::linalg::{matmul_dims, Cell, MatmulPlan};
use super::quant::{int_range, saturate_round};
use super::util_b::{check_max_operands, floats, ints, operand, optional_operand, tensor_type};
use weft_ir::ops::{Arity, OpDef, OpInfo, Trait};
use weft_ir::tensor::{Tensor, TensorData};
use weft_ir::types::{Dim, ElemType, TensorType, Type};
use weft_ir::Attrs;

pub const MATMUL_INTEGER: OpDef = OpDef {
    name: "onnx.MatMulInteger",
    summary: "Integer matmul of (A - a_zero_point) and (B - b_zero_point), accumulated in i32",
    description: "A and B are i8 or u8 with numpy `matmul` geometry; the optional zero points have \
their operand's type and are scalars, per row of A (`[M]`, or A's shape with the last dim 1) or \
per column of B (`[N]`, or B's shape with the second-to-last dim 1). Products are exact and the \
sum wraps in i32.\n\n\
```\n%2 = onnx.MatMulInteger %0, %1 : (tensor<1x128x768xu8>, tensor<768x768xi8>) -> tensor<1x128x768xi32>\n```",
    operands: Arity::Variadic { name: "A, B, a_zero_point, b_zero_point", min: 2 },
    results: Arity::Fixed(&["Y"]),
    traits: &[Trait::Pure],
    infer: Some(infer_matmul_integer),
    eval: Some(eval_matmul_integer),
    ..OpDef::DEFAULT
};

pub const QLINEAR_MATMUL: OpDef = OpDef {
    name: "onnx.QLinearMatMul",
    summary: "Quantized matmul: requantize((a - a_zp)(b - b_zp) * a_scale * b_scale / y_scale) + y_zp",
    description: "a and b are i8 or u8 with numpy `matmul` geometry. a's scale and zero point are \
scalars or per row (`[M]`), b's and y's scalars or per column (`[N]`). The i32 sum of exact \
products is multiplied (in f64) by the f32 value `a_scale * b_scale / y_scale`, offset by y's \
zero point, rounded half to even and saturated to y's zero-point type (the operator text's \
saturation; onnx 1.17's reference implementation wraps instead).\n\n\
```\n%8 = onnx.QLinearMatMul %0, %1, %2, %3, %4, %5, %6, %7 : (tensor<2x4xu8>, tensor<f32>, tensor<u8>, tensor<4x3xu8>, tensor<f32>, tensor<u8>, tensor<f32>, tensor<u8>) -> tensor<2x3xu8>\n```",
    operands: Arity::Fixed(&["a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point", "y_scale", "y_zero_point"]),
    results: Arity::Fixed(&["y"]),
    traits: &[Trait::Pure],
    infer: Some(infer_qlinear_matmul),
    eval: Some(eval_qlinear_matmul),
    ..OpDef::DEFAULT
};

fn is_byte(e: &ElemType) -> bool {
    matches!(e, ElemType::Int { width: 8, .. })
}

fn byte_operand<'a>(info: &OpInfo<'a>, i: usize) -> Result<&'a TensorType, String> {
    let t = operand(info, i)?;
    if !is_byte(&t.elem) {
        return Err(format!("operand #{i} must be i8 or u8, got {}", t.elem));
    }
    Ok(t)
}

/// True when `p` (a parameter's dims) is a scalar or one-element vector.
fn is_scalar_like(p: &[Dim]) -> bool {
    p.is_empty() || (p.len() == 1 && p[0] == Dim::Fixed(1))
}

/// Checks a row parameter of A (`[M]` or A's dims with the last one 1).
fn check_row_param(p: &TensorType, a: &TensorType, what: &str) -> Result<(), String> {
    if is_scalar_like(&p.dims) {
        return Ok(());
    }
    let m = if a.rank() >= 2 { a.dims[a.rank() - 2].clone() } else { Dim::Fixed(1) };
    let mut full = a.dims.clone();
    if let Some(last) = full.last_mut() {
        *last = Dim::Fixed(1);
    }
    if p.dims == [m.clone()] || (a.rank() > 2 && p.dims == full) || p.dims.iter().any(|d| d.fixed().is_none()) {
        return Ok(());
    }
    Err(format!("{what} must be a scalar, [{m}] (per row) or A's shape with the last dim 1, got {p}"))
}

/// Checks a column parameter of B (`[N]` or B's dims with the row dim 1).
fn check_col_param(p: &TensorType, b: &TensorType, what: &str) -> Result<(), String> {
    if is_scalar_like(&p.dims) {
        return Ok(());
    }
    let n = if b.rank() >= 2 { b.dims[b.rank() - 1].clone() } else { Dim::Fixed(1) };
    let mut full = b.dims.clone();
    if b.rank() >= 2 {
        full[b.rank() - 2] = Dim::Fixed(1);
    }
    if p.dims == [n.clone()] || (b.rank() > 2 && p.dims == full) || p.dims.iter().any(|d| d.fixed().is_none()) {
        return Ok(());
    }
    Err(format!("{what} must be a scalar, [{n}] (per column) or B's shape with the row dim 1, got {p}"))
}

/// A parameter per row of A: scalar, per row, or per row of each matrix.
#[derive(Debug, Clone)]
pub struct RowParam(Vec<f64>, usize);

impl RowParam {
    /// `values` of `shape` for an A that is a stack of `m`-row matrices.
    fn new(values: Vec<f64>, shape: &[u64], a_rank: usize, m: usize, what: &str) -> Result<RowParam, String> {
        let per = match values.len() {
            1 => 0,
            n if n == m && shape.len() == 1 => m,
            n if shape.len() == a_rank && a_rank > 2 && n % m.max(1) == 0 => n,
            n => return Err(format!("{what} has {n} values, which fit neither per tensor nor per row of {m} rows")),
        };
        Ok(RowParam(values, per))
    }

    fn at(&self, plan: &MatmulPlan, c: Cell) -> Result<f64, String> {
        let i = match self.1 {
            0 => 0,
            n if n == plan.m => c.i,
            _ => c.a * plan.m + c.i,
        };
        self.0.get(i).copied().ok_or_else(|| "a per-row parameter does not cover A's batch".to_string())
    }
}

/// A parameter per column of B: scalar, per column, or per column of each matrix.
#[derive(Debug, Clone)]
pub struct ColParam(Vec<f64>, usize);

impl ColParam {
    fn new(values: Vec<f64>, shape: &[u64], b_rank: usize, n: usize, what: &str) -> Result<ColParam, String> {
        let per = match values.len() {
            1 => 0,
            k if k == n && shape.len() == 1 => n,
            k if shape.len() == b_rank && b_rank > 2 && k % n.max(1) == 0 => k,
            k => {
                return Err(format!(
                    "{what} has {k} values, which fit neither per tensor nor per column of {n} columns"
                ))
            }
        };
        Ok(ColParam(values, per))
    }

    fn at(&self, plan: &MatmulPlan, c: Cell) -> Result<f64, String> {
        let j = match self.1 {
            0 => 0,
            n if n == plan.n => c.j,
            _ => c.b * plan.n + c.j,
        };
        self.0.get(j).copied().ok_or_else(|| "a per-column parameter does not cover B's batch".to_string())
    }
}

/// The i32 sum of `(a - azp) * (b - bzp)` over one cell.
fn int_dot(plan: &MatmulPlan, a: &[i64], b: &[i64], c: Cell, azp: i64, bzp: i64) -> i32 {
    let mut acc = 0i32;
    for p in 0..plan.k {
        let x = (a[plan.a_index(c, p)] - azp) as i32;
        let y = (b[plan.b_index(c, p)] - bzp) as i32;
        acc = acc.wrapping_add(x.wrapping_mul(y));
    }
    acc
}

fn zero_point_values(t: Option<&Tensor>, what: &str) -> Result<(Vec<f64>, Vec<u64>), String> {
    match t {
        Some(t) => Ok((ints(t, what)?.iter().map(|&v| v as f64).collect(), t.shape.clone())),
        None => Ok((vec![0.0], vec![])),
    }
}

fn infer_matmul_integer(info: &OpInfo) -> Result<Vec<Type>, String> {
    check_max_operands(info, 4)?;
    let (a, b) = (byte_operand(info, 0)?, byte_operand(info, 1)?);
    for (i, of) in [(2, a), (3, b)] {
        if let Some(zp) = optional_operand(info, i)? {
            if zp.elem != of.elem {
                return Err(format!("the zero point #{i} has type {} but its operand has {}", zp.elem, of.elem));
            }
        }
    }
    if let Some(zp) = optional_operand(info, 2)? {
        check_row_param(zp, a, "'a_zero_point'")?;
    }
    if let Some(zp) = optional_operand(info, 3)? {
        check_col_param(zp, b, "'b_zero_point'")?;
    }
    Ok(vec![tensor_type(matmul_dims(&a.dims, &b.dims)?, ElemType::I32)])
}

fn eval_matmul_integer(ops: &[Tensor], _: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let (a, b) = (&ops[0], &ops[1]);
    let plan = MatmulPlan::new(&a.shape, &b.shape)?;
    let (azp, azp_shape) = zero_point_values(ops.get(2), "'a_zero_point'")?;
    let (bzp, bzp_shape) = zero_point_values(ops.get(3), "'b_zero_point'")?;
    let azp = RowParam::new(azp, &azp_shape, a.shape.len(), plan.m, "'a_zero_point'")?;
    let bzp = ColParam::new(bzp, &bzp_shape, b.shape.len(), plan.n, "'b_zero_point'")?;
    let (av, bv) = (ints(a, "'A'")?, ints(b, "'B'")?);
    let values: Result<Vec<i64>, String> = plan
        .map(|c| Ok(int_dot(&plan, &av, &bv, c, azp.at(&plan, c)? as i64, bzp.at(&plan, c)? as i64) as i64))
        .into_iter()
        .collect();
    Ok(vec![Tensor { elem: ElemType::I32, shape: plan.out_shape.clone(), data: TensorData::Int(values?) }])
}

fn infer_qlinear_matmul(info: &OpInfo) -> Result<Vec<Type>, String> {
    let (a, b) = (byte_operand(info, 0)?, byte_operand(info, 3)?);
    let y_zp = byte_operand(info, 7)?;
    for (zp, of) in [(2, 0), (5, 3)] {
        let (z, o) = (operand(info, zp)?, operand(info, of)?);
        if z.elem != o.elem {
            return Err(format!("the zero point #{zp} has type {} but its operand has {}", z.elem, o.elem));
        }
    }
    for i in [1, 4, 6] {
        super::util_b::float_operand(info, i)?;
    }
    check_row_param(operand(info, 1)?, a, "'a_scale'")?;
    check_row_param(operand(info, 2)?, a, "'a_zero_point'")?;
    check_col_param(operand(info, 4)?, b, "'b_scale'")?;
    check_col_param(operand(info, 5)?, b, "'b_zero_point'")?;
    check_col_param(operand(info, 6)?, b, "'y_scale'")?;
    check_col_param(y_zp, b, "'y_zero_point'")?;
    Ok(vec![tensor_type(matmul_dims(&a.dims, &b.dims)?, y_zp.elem.clone())])
}

fn eval_qlinear_matmul(ops: &[Tensor], _: &Attrs, _: &[Type]) -> Result<Vec<Tensor>, String> {
    let (a, b) = (&ops[0], &ops[3]);
    let plan = MatmulPlan::new(&a.shape, &b.shape)?;
    let (ar, br) = (a.shape.len(), b.shape.len());
    let row = |t: &Tensor, v: Vec<f64>, what| RowParam::new(v, &t.shape, ar, plan.m, what);
    let col = |t: &Tensor, v: Vec<f64>, what| ColParam::new(v, &t.shape, br, plan.n, what);
    let a_scale = row(&ops[1], floats(&ops[1]), "'a_scale'")?;
    let a_zp = row(&ops[2], zero_point_values(Some(&ops[2]), "'a_zero_point'")?.0, "'a_zero_point'")?;
    let b_scale = col(&ops[4], floats(&ops[4]), "'b_scale'")?;
    let b_zp = col(&ops[5], zero_point_values(Some(&ops[5]), "'b_zero_point'")?.0, "'b_zero_point'")?;
    let y_scale = col(&ops[6], floats(&ops[6]), "'y_scale'")?;
    let y_zp = col(&ops[7], zero_point_values(Some(&ops[7]), "'y_zero_point'")?.0, "'y_zero_point'")?;
    let elem = ops[7].elem.clone();
    let range = int_range(&elem);
    let (av, bv) = (ints(a, "'a'")?, ints(b, "'b'")?);
    let values: Result<Vec<i64>, String> = plan
        .map(|c| {
            let acc = int_dot(&plan, &av, &bv, c, a_zp.at(&plan, c)? as i64, b_zp.at(&plan, c)? as i64);
            let multiplier = a_scale.at(&plan, c)? as f32 * b_scale.at(&plan, c)? as f32 / y_scale.at(&plan, c)? as f32;
            Ok(saturate_round(acc as f64 * multiplier as f64, y_zp.at(&plan, c)? as i64, range))
        })
        .into_iter()
        .collect();
    Ok(vec![Tensor { elem, shape: plan.out_shape.clone(), data: TensorData::Int(values?) }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::testing_b::*;
    use crate::dialect::util_b::U8;

    const I8: ElemType = ElemType::I8;

    #[test]
    fn matmul_integer_docs_example() {
        // onnx docs: A 4x3 u8, B 3x2 u8, a_zero_point 12, b_zero_point 0.
        let a = int_t(U8, &[4, 3], &[11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0]);
        let b = int_t(U8, &[3, 2], &[1, 4, 2, 5, 3, 6]);
        let out = eval1(&MATMUL_INTEGER, &[a, b, int_t(U8, &[], &[12]), int_t(U8, &[], &[0])], &Attrs::new());
        assert_eq!((out.elem.clone(), ivals(&out)), (ElemType::I32, vec![-38, -83, -44, -98, -50, -113, -56, -128]));
    }

    #[test]
    fn matmul_integer_per_row_and_per_column_zero_points() {
        let a = int_t(I8, &[2, 2], &[1, 2, 3, 4]);
        let b = int_t(I8, &[2, 2], &[1, 0, 0, 1]);
        let azp = int_t(I8, &[2], &[1, 3]);
        let bzp = int_t(I8, &[2], &[0, 1]);
        // (A - [1, 3] per row) = [[0, 1], [0, 1]]; (B - [0, 1] per column) = [[1, -1], [0, 0]].
        let out = eval1(&MATMUL_INTEGER, &[a, b, azp, bzp], &Attrs::new());
        assert_eq!(ivals(&out), vec![0, 0, 0, 0]);
        let wrap = eval1(&MATMUL_INTEGER, &[int_t(U8, &[1, 1], &[255]), int_t(U8, &[1, 1], &[255])], &Attrs::new());
        assert_eq!(ivals(&wrap), vec![65025]);
        let batched = int_t(U8, &[2, 1, 2], &[1, 1, 2, 2]);
        let zp = int_t(U8, &[2, 1, 1], &[1, 0]);
        let out = eval1(&MATMUL_INTEGER, &[batched, int_t(U8, &[2, 1], &[3, 4]), zp], &Attrs::new());
        assert_eq!(ivals(&out), vec![0, 14]);
    }

    #[test]
    fn matmul_integer_infers_i32_and_checks_zero_points() {
        let args = [Arg::Ty(ty("[b]x128x768", U8)), Arg::Ty(ty("768x768", I8))];
        assert_eq!(infer1(&MATMUL_INTEGER, &args, &Attrs::new()), "tensor<[b]x128x768xi32>");
        let args = [Arg::Ty(ty("4x3", U8)), Arg::Ty(ty("3x2", U8)), Arg::Ty(ty("", I8))];
        infer_err(&MATMUL_INTEGER, &args, &Attrs::new(), "zero point #2 has type i8");
        let args = [Arg::Ty(ty("4x3", U8)), Arg::Ty(ty("3x2", U8)), Arg::Ty(ty("3", U8))];
        infer_err(&MATMUL_INTEGER, &args, &Attrs::new(), "per row");
        let args = [Arg::Ty(f32ty("4x3")), Arg::Ty(ty("3x2", U8))];
        infer_err(&MATMUL_INTEGER, &args, &Attrs::new(), "i8 or u8");
    }

    #[test]
    fn qlinear_matmul_docs_example() {
        // onnx docs (2-D): a 2x4, b 4x3, all u8.
        let a = int_t(U8, &[2, 4], &[208, 236, 0, 238, 3, 214, 255, 29]);
        let b = int_t(U8, &[4, 3], &[152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247]);
        let ops = [
            a,
            f32t(&[], &[0.0066]),
            int_t(U8, &[], &[113]),
            b,
            f32t(&[], &[0.00705]),
            int_t(U8, &[], &[114]),
            f32t(&[], &[0.0107]),
            int_t(U8, &[], &[118]),
        ];
        let out = eval1(&QLINEAR_MATMUL, &ops, &Attrs::new());
        assert_eq!(ivals(&out), vec![168, 115, 255, 1, 66, 151]);
        let args: Vec<Arg> = ops.iter().map(|t| Arg::Ty(Type::Tensor(t.ty()))).collect();
        assert_eq!(infer1(&QLINEAR_MATMUL, &args, &Attrs::new()), "tensor<2x3xu8>");
    }

    #[test]
    fn qlinear_matmul_per_column_scales_and_i8_saturation() {
        let ops = [
            int_t(I8, &[1, 2], &[100, 100]),
            f32t(&[], &[1.0]),
            int_t(I8, &[], &[0]),
            int_t(I8, &[2, 2], &[1, 1, 1, -1]),
            f32t(&[2], &[1.0, 0.5]),
            int_t(I8, &[2], &[0, 0]),
            f32t(&[2], &[1.0, 1.0]),
            int_t(I8, &[2], &[0, 5]),
        ];
        // acc = [200, 0]; y = [sat(200) = 127, 0 * 0.5 + 5 = 5].
        assert_eq!(ivals(&eval1(&QLINEAR_MATMUL, &ops, &Attrs::new())), vec![127, 5]);
        let mut bad = ops.clone();
        bad[4] = f32t(&[3], &[1.0, 1.0, 1.0]);
        assert!(eval(&QLINEAR_MATMUL, &bad, &Attrs::new()).unwrap_err().contains("per column"));
    }
}
