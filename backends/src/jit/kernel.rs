//! Kernel descriptions: what one op (or a fused chain of elementwise ops,
//! see `fuse`) computes, as loops over buffers with static extents and
//! strides, before any code is generated. Lowering (`lower`) builds them
//! from ops and the buffer plan; codegen turns each [`Kernel`] into one
//! native function.
//!
//! Invariants: every extent and stride is static; strides and bases are in
//! elements of the access's storage (codegen scales them to bytes); an
//! [`Access`] never reads or writes outside its buffer for any index of the
//! iteration shape it belongs to (lowering checks shapes before building
//! one); a kernel writes only arena places.

use super::gemm::Isa;
use super::plan::Place;
use super::storage::Storage;

/// How a loop nest reads or writes one buffer: element `idx` of the
/// iteration shape is at `base + sum(idx[d] * strides[d])`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Access {
    pub place: Place,
    pub st: Storage,
    pub base: i64,
    pub strides: Vec<i64>,
}

impl Access {
    /// A row-major buffer of `shape`, iterated in its own order.
    pub fn contiguous(place: Place, st: Storage, shape: &[u64]) -> Access {
        Access { place, st, base: 0, strides: row_major(shape) }
    }

    /// A row-major buffer of `shape` read under numpy broadcasting while
    /// iterating `out` (dims aligned at the right; extent-1 dims repeat).
    pub fn broadcast(place: Place, st: Storage, shape: &[u64], out: &[u64]) -> Access {
        let own = row_major(shape);
        let pad = out.len().saturating_sub(shape.len());
        let strides = (0..out.len())
            .map(|d| match d.checked_sub(pad) {
                Some(i) if shape.get(i).is_some_and(|&e| e != 1) => own.get(i).copied().unwrap_or(0),
                _ => 0,
            })
            .collect();
        Access { place, st, base: 0, strides }
    }
}

/// Row-major strides of `shape`, in elements.
pub(crate) fn row_major(shape: &[u64]) -> Vec<i64> {
    let mut strides = vec![1i64; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1] as i64;
    }
    strides
}

/// Binary arithmetic (operands and result of one storage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Max,
    Min,
}

/// Comparisons (giving bool).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Unary ops (the f32 functions are weft's f32 math emitted inline, the f64
/// ones call the runtime's math).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnOp {
    Neg,
    Abs,
    Relu,
    Reciprocal,
    Sqrt,
    Exp,
    Log,
    Erf,
    Tanh,
    Sigmoid,
    GeluErf,
    GeluTanh,
    Not,
}

/// Static clip bounds, already resolved against the element type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Clip {
    /// Float bounds (NaN bounds dropped).
    Float { lo: Option<f64>, hi: Option<f64> },
    /// Integer bounds inside the type's range.
    Int { lo: Option<i64>, hi: Option<i64> },
    /// Every element becomes this (a bound outside the type's range).
    Const(i64),
}

/// A scalar expression over the elements the inputs of a map read at one
/// index. Each node's storage is its operands' (comparisons give bool).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Input(usize),
    Binary(BinOp, Storage, Box<Expr>, Box<Expr>),
    Compare(CmpOp, Storage, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Unary(UnOp, Storage, Box<Expr>),
    /// condition (bool), on true, on false.
    Select(Box<Expr>, Box<Expr>, Box<Expr>),
    Cast {
        from: Storage,
        to: Storage,
        x: Box<Expr>,
    },
    Clip(Storage, Clip, Box<Expr>),
    /// An integer op of the nl dialect (`lower_nl`).
    Nl(Box<super::lower_nl::NlExpr>),
    /// An elementwise op of the quant dialect (`lower_quant`).
    Quant(Box<super::lower_quant::QuantExpr>),
}

impl Expr {
    /// The expression with every `Input(i)` renumbered to `Input(f(i))`.
    pub fn map_inputs(self, f: &impl Fn(usize) -> usize) -> Expr {
        self.rewrite(&mut |i| Expr::Input(f(i)))
    }

    /// The expression with `Input(j)` replaced by `with`.
    pub fn replace_input(self, j: usize, with: &Expr) -> Expr {
        self.rewrite(&mut |i| if i == j { with.clone() } else { Expr::Input(i) })
    }

    /// The expression with every `Input(i)` replaced by `leaf(i)`.
    fn rewrite(self, leaf: &mut impl FnMut(usize) -> Expr) -> Expr {
        let mut go = |e: Box<Expr>| Box::new(e.rewrite(leaf));
        match self {
            Expr::Input(i) => leaf(i),
            Expr::Binary(op, st, a, b) => {
                let a = go(a);
                Expr::Binary(op, st, a, go(b))
            }
            Expr::Compare(op, st, a, b) => {
                let a = go(a);
                Expr::Compare(op, st, a, go(b))
            }
            Expr::And(a, b) => {
                let a = go(a);
                Expr::And(a, go(b))
            }
            Expr::Or(a, b) => {
                let a = go(a);
                Expr::Or(a, go(b))
            }
            Expr::Unary(op, st, x) => Expr::Unary(op, st, go(x)),
            Expr::Select(c, t, f) => {
                let (c, t) = (go(c), go(t));
                Expr::Select(c, t, go(f))
            }
            Expr::Cast { from, to, x } => Expr::Cast { from, to, x: go(x) },
            Expr::Clip(st, clip, x) => Expr::Clip(st, clip, go(x)),
            Expr::Nl(mut n) => {
                n.args = n.args.into_iter().map(|a| *go(Box::new(a))).collect();
                Expr::Nl(n)
            }
            Expr::Quant(mut q) => {
                q.args = q.args.into_iter().map(|a| *go(Box::new(a))).collect();
                Expr::Quant(q)
            }
        }
    }
}

/// The reductions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReduceKind {
    Sum,
    Mean,
    Max,
}

/// One loop nest (or a fixed structure of them) of a kernel.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    /// `out[idx] = expr(inputs[..][idx])` for every `idx` of `shape`.
    Map { shape: Vec<u64>, out: Access, inputs: Vec<Access>, expr: Expr },
    /// Batched integer `c = a x b`: `batch` dims iterate the three accesses
    /// (whose strides cover the batch dims only); each is a row-major matrix.
    Matmul { batch: Vec<u64>, a: Access, b: Access, c: Access, m: u64, n: u64, k: u64 },
    /// A batched float product computed by the GEMM runtime (see [`Gemm`]).
    Gemm(Box<Gemm>),
    /// `out[o] = reduce(input[o, r] for r in reduced)`: `input` strides
    /// cover `outer ++ reduced`, `out` strides cover `outer`.
    Reduce { kind: ReduceKind, outer: Vec<u64>, reduced: Vec<u64>, input: Access, out: Access },
    /// Softmax or log-softmax along one axis: `input`/`out` strides cover
    /// `lanes ++ [n]`.
    Softmax { log: bool, lanes: Vec<u64>, n: u64, input: Access, out: Access },
    /// Layer norm: all four accesses' strides cover `lanes ++ inner`.
    LayerNorm { lanes: Vec<u64>, inner: Vec<u64>, x: Access, scale: Access, bias: Access, out: Access, eps: f64 },
    /// Direct convolution (see [`Conv`]).
    Conv(Box<Conv>),
    /// `out[o, j, i] = data[o, indices[j], i]` with `data` of shape
    /// `[outer, extent, inner]` and `count` indices.
    Gather { outer: u64, extent: u64, count: u64, inner: u64, data: Access, indices: Access, out: Access },
    /// Interpolation through tap tables (`nn.resize`).
    Resize(Box<super::lower_resize::Resize>),
    /// Transposed convolution in gather form (`nn.conv_transpose`).
    ConvTranspose(Box<super::lower_conv_transpose::ConvTranspose>),
    /// An exact integer tree of the nl dialect (`nl.max_tree`, `nl.add_tree`).
    NlTree(Box<super::lower_nl::NlTree>),
    /// A call into Rust code of the runtime (`quant_runtime`): the integer
    /// matmul, the quant nonlinear ops.
    Runtime(super::quant_runtime::RuntimeCall),
    /// A quantized matmul before [`super::lower_quant::prepare`] turns it
    /// into a [`Part::Runtime`] call (packing its constant weights).
    QGemm(Box<super::lower_quant::QGemmPart>),
}

/// A direct convolution. The outer nest iterates `outer` = `[batch,
/// groups, channels per group, out spatial..]` with the three accesses and
/// one input position per spatial dim (`positions`: start and strides over
/// `outer`); each output element sums, over the `cg` input channels of its
/// group (strides `x_channel`, `w_channel`) and the kernel positions
/// (`kernel`, with strides `x_kernel`, `w_kernel` and `pos_kernel` per
/// spatial dim), `x * w` where every position is inside `limits` (unless
/// `in_bounds` says all reads are).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Conv {
    pub outer: Vec<u64>,
    pub x: Access,
    pub w: Access,
    pub out: Access,
    pub positions: Vec<(i64, Vec<i64>)>,
    pub cg: u64,
    pub x_channel: i64,
    pub w_channel: i64,
    pub kernel: Vec<u64>,
    pub x_kernel: Vec<i64>,
    pub w_kernel: Vec<i64>,
    pub pos_kernel: Vec<Vec<i64>>,
    pub limits: Vec<u64>,
    pub in_bounds: bool,
}

/// A batched f32 or f64 matrix product computed by the GEMM runtime
/// (`jit::gemm`): for every index of `batch`, `c = a x b` with `a` (m x k)
/// and `c` (m x n) dense row-major matrices of `c`'s storage. Element
/// `(p, j)` of a `b` matrix is at `p * b_strides[0] + j * b_strides[1]`;
/// a `b` computed at run time must be row-major (`[n, 1]`) of `c`'s
/// storage, a constant `b` may be any view of f32 or of `c`'s storage: it
/// is packed at compile time (`packed_b`, for `isa`). The accesses'
/// strides cover the batch dims only; with `packed_b`, `b`'s strides step
/// whole packed matrices.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Gemm {
    pub batch: Vec<u64>,
    pub a: Access,
    pub b: Access,
    pub c: Access,
    pub m: u64,
    pub n: u64,
    pub k: u64,
    pub b_strides: [i64; 2],
    pub isa: Isa,
    pub packed_b: bool,
    /// Arena bytes where a row-major `b` is packed per call (unused with
    /// `packed_b`); every product of a run may share them.
    pub scratch: Place,
}

/// The slot of a kernel's temporaries: an access in it addresses bytes
/// (from its place's offset) that live only while the kernel runs. Before
/// code generation they are moved to the arena's tail, after every planned
/// value (`lower_matmul::prepare`, which relocates the accesses of `Map`
/// and `Gemm` parts: only those may use it).
pub(crate) const TEMP_SLOT: u32 = u32::MAX;

/// The slot of a constant table a lowering made (per-channel parameters
/// of quant maps): an access in it reads `Kernel::tables[offset]`, which
/// [`super::lower_quant::attach_tables`] moves into a constant buffer
/// before code generation.
pub(crate) const TABLE_SLOT: u32 = u32::MAX - 2;

/// Failure codes a kernel returns (0 is success).
pub(crate) const FAIL_DIV_ZERO: i64 = 1;
pub(crate) const FAIL_POW_ZERO: i64 = 2;
pub(crate) const FAIL_GATHER: i64 = 3;
pub(crate) const FAIL_GEMM: i64 = 4;
pub(crate) const FAIL_RUNTIME: i64 = 5;

/// The kernel of one op.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Kernel {
    pub parts: Vec<Part>,
    /// The message of [`FAIL_GATHER`] for this op.
    pub gather_error: String,
    /// Little-endian bytes of constant tables the kernel's accesses in
    /// [`TABLE_SLOT`] read (by index).
    pub tables: Vec<Vec<u8>>,
}

impl Kernel {
    /// The message for a failure code the kernel returned.
    pub fn failure(&self, code: i32) -> String {
        match i64::from(code) {
            FAIL_DIV_ZERO => "integer division by zero".to_string(),
            FAIL_POW_ZERO => "0 raised to a negative power".to_string(),
            FAIL_GATHER => self.gather_error.clone(),
            FAIL_GEMM => "internal error: the matmul runtime rejected its operands".to_string(),
            FAIL_RUNTIME => self
                .parts
                .iter()
                .find_map(|p| match p {
                    Part::Runtime(call) => call.last_error(),
                    _ => None,
                })
                .unwrap_or_else(|| "internal error: a runtime call failed".to_string()),
            _ => format!("internal error: kernel failed with code {code}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_strides_repeat_extent_one_and_missing_dims() {
        let p = Place { slot: 0, offset: 0 };
        let a = Access::broadcast(p, Storage::F32, &[3, 1], &[2, 3, 4]);
        assert_eq!(a.strides, vec![0, 1, 0]);
        assert_eq!(row_major(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(Access::contiguous(p, Storage::F32, &[]).strides, Vec::<i64>::new());
    }
}
