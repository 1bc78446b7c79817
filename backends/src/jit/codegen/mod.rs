//! Code generation with Cranelift: one native function per [`Kernel`],
//! `extern "C" fn(table: *const *mut u8) -> i32`, where `table[slot]` is
//! the base address of a buffer slot (0: the arena; others: constants and
//! resources) and the result is 0 or a failure code of the kernel.
//!
//! The ISA is the host's (`cranelift_native`), `opt_level = speed`. The
//! f32 functions (exp, log, erf, tanh, sigmoid, gelu) are weft's own f32
//! algorithms, emitted inline from the generic code the interpreter runs
//! (`fmath`); the f64 functions the reference takes from Rust's std or
//! libm are called in the runtime ([`super::math`]). Both give the
//! interpreter's bits.
//!
//! Invariants: every buffer base is loaded in the entry block (so it
//! dominates every loop); loops are do-while with static trip counts > 0
//! (a nest with an empty extent emits nothing); loads and stores are
//! unaligned-safe (weights in a mapped file need not be aligned).

mod conv;
mod conv_transpose;
mod fmath;
mod lanes;
mod loops;
mod matmul;
mod mean;
mod nl;
mod nl_approx;
mod pool;
mod quant;
mod resize;
mod scalar;
mod vmap;
mod vnorm;
mod vsoftmax;

use super::kernel::{Kernel, Part};
use super::math::MathFn;
use super::storage::Storage;
use cranelift_codegen::ir::UserFuncName;
use cranelift_codegen::ir::{types, AbiParam, Block, BlockArg, FuncRef, InstBuilder, MemFlagsData, Type, Value};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module};
use std::collections::{BTreeSet, HashMap};

/// A compiled kernel: `table` holds one base address per slot.
pub(crate) type KernelFn = unsafe extern "C" fn(table: *const *mut u8) -> i32;

/// Compiles kernels into one JIT module.
pub(crate) struct Compiler {
    module: JITModule,
    ctx: Context,
    fctx: FunctionBuilderContext,
    math: HashMap<MathFn, FuncId>,
    kernels: Vec<FuncId>,
    /// Elementwise maps emitted on SIMD lanes so far.
    pub vector_maps: usize,
    pool: pool::LanePool,
    /// The run-table slot of the lane constant pool.
    pool_slot: u32,
}

fn isa_flags() -> Result<settings::Flags, String> {
    let mut b = settings::builder();
    let mut set = |k: &str, v: &str| b.set(k, v).map_err(|e| format!("cranelift setting {k}={v}: {e}"));
    set("opt_level", "speed")?;
    set("is_pic", "false")?;
    set("use_colocated_libcalls", "false")?;
    set("enable_verifier", if cfg!(debug_assertions) { "true" } else { "false" })?;
    Ok(settings::Flags::new(b))
}

impl Compiler {
    /// A compiler for the host CPU; the kernels will find the lane constant
    /// pool ([`Compiler::finish`] returns its bytes) at run-table slot
    /// `pool_slot`.
    pub fn new(pool_slot: u32) -> Result<Compiler, String> {
        let isa = cranelift_native::builder()
            .map_err(|e| format!("the host CPU is not supported by Cranelift: {e}"))?
            .finish(isa_flags()?)
            .map_err(|e| format!("cannot build the Cranelift ISA: {e}"))?;
        let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
        for f in MathFn::ALL {
            builder.symbol(f.symbol(), f.address());
        }
        let mut module = JITModule::new(builder);
        let mut math = HashMap::new();
        for f in MathFn::ALL {
            let mut sig = module.make_signature();
            let (params, ret) = f.signature();
            sig.params.extend(params.iter().map(|&t| AbiParam::new(t)));
            sig.returns.push(AbiParam::new(ret));
            let id = module.declare_function(f.symbol(), Linkage::Import, &sig).map_err(|e| e.to_string())?;
            math.insert(f, id);
        }
        let ctx = module.make_context();
        Ok(Compiler {
            module,
            ctx,
            fctx: FunctionBuilderContext::new(),
            math,
            kernels: Vec::new(),
            vector_maps: 0,
            pool: pool::LanePool::default(),
            pool_slot,
        })
    }

    /// Generates the function of `kernel`; its index among the kernels.
    pub fn add(&mut self, kernel: &Kernel) -> Result<usize, String> {
        let index = self.kernels.len();
        let mut sig = self.module.make_signature();
        let ptr = self.module.target_config().pointer_type();
        sig.params.push(AbiParam::new(ptr));
        sig.returns.push(AbiParam::new(types::I32));
        let id =
            self.module.declare_function(&format!("kernel{index}"), Linkage::Local, &sig).map_err(|e| e.to_string())?;
        self.ctx.func.signature = sig;
        self.ctx.func.name = UserFuncName::user(0, id.as_u32());
        self.build(kernel, ptr)?;
        self.pool.check()?;
        self.module.define_function(id, &mut self.ctx).map_err(|e| format!("cranelift: {e:?}"))?;
        self.module.clear_context(&mut self.ctx);
        self.kernels.push(id);
        Ok(index)
    }

    fn build(&mut self, kernel: &Kernel, ptr: Type) -> Result<(), String> {
        let config = self.module.target_config();
        let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let table = b.block_params(entry)[0];
        let fail = b.create_block();
        b.append_block_param(fail, types::I32);
        let mut refs = HashMap::new();
        for (&f, &id) in &self.math {
            refs.insert(f, self.module.declare_func_in_func(id, b.func));
        }
        let mut bases = HashMap::new();
        for slot in slots(kernel).into_iter().chain([self.pool_slot]) {
            let base = b.ins().load(ptr, flags(), table, (slot * 8) as i32);
            bases.insert(slot, base);
        }
        let pool_base = bases[&self.pool_slot];
        let pool = PoolRef { pool: &mut self.pool, table, slot: self.pool_slot, base: pool_base };
        let mut e = Emit { b: &mut b, refs, bases, fail, ptr, vector_maps: 0, pool };
        for part in &kernel.parts {
            e.part(part)?;
        }
        self.vector_maps += e.vector_maps;
        let zero = e.b.ins().iconst(types::I32, 0);
        e.b.ins().return_(&[zero]);
        e.b.switch_to_block(fail);
        e.b.seal_block(fail);
        let code = e.b.block_params(fail)[0];
        e.b.ins().return_(&[code]);
        b.finalize(config);
        Ok(())
    }

    /// Links the kernels; the module (which owns the code), one function
    /// pointer per kernel, in the order they were added, and the bytes of
    /// the lane constant pool.
    pub fn finish(mut self) -> Result<(JITModule, Vec<KernelFn>, Vec<u8>), String> {
        self.module.finalize_definitions().map_err(|e| format!("cranelift: {e:?}"))?;
        let fns = self
            .kernels
            .iter()
            .map(|&id| {
                let code = self.module.get_finalized_function(id);
                // SAFETY: `code` is the finalized function declared with
                // the signature (pointer) -> i32 in `add`, living as long
                // as the module the caller keeps.
                unsafe { std::mem::transmute::<*const u8, KernelFn>(code) }
            })
            .collect();
        Ok((self.module, fns, self.pool.bytes()))
    }
}

/// The buffer slots a kernel reads or writes.
fn slots(kernel: &Kernel) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    for part in &kernel.parts {
        let accesses: Vec<&super::kernel::Access> = match part {
            Part::Map { out, inputs, .. } => inputs.iter().chain([out]).collect(),
            Part::Matmul { a, b, c, .. } => vec![a, b, c],
            Part::Gemm(g) => {
                out.insert(g.scratch.slot);
                vec![&g.a, &g.b, &g.c]
            }
            Part::Reduce { input, out, .. } | Part::Softmax { input, out, .. } => vec![input, out],
            Part::LayerNorm { x, scale, bias, out, .. } => vec![x, scale, bias, out],
            Part::Gather { data, indices, out, .. } => vec![data, indices, out],
            Part::Conv(c) => vec![&c.x, &c.w, &c.out],
            Part::ConvTranspose(c) => vec![&c.x, &c.w, &c.out],
            Part::Resize(r) => [&r.x, &r.out].into_iter().chain(r.dims.iter().map(|t| &t.table)).collect(),
            Part::NlTree(t) => vec![&t.input, &t.out],
            // Runtime calls read the run table themselves.
            Part::Runtime(_) | Part::QGemm(_) => Vec::new(),
        };
        out.extend(accesses.iter().map(|a| a.place.slot));
    }
    out
}

/// Lane order of a bitcast that changes the lane count: little-endian, as
/// the lanes lie in memory.
/// The Cranelift condition code of a comparison: ordered for floats
/// (false when either side is NaN), by signedness for integers.
pub(crate) fn float_cc(op: super::kernel::CmpOp) -> cranelift_codegen::ir::condcodes::FloatCC {
    use super::kernel::CmpOp;
    use cranelift_codegen::ir::condcodes::FloatCC;
    match op {
        CmpOp::Eq => FloatCC::Equal,
        CmpOp::Lt => FloatCC::LessThan,
        CmpOp::Le => FloatCC::LessThanOrEqual,
        CmpOp::Gt => FloatCC::GreaterThan,
        CmpOp::Ge => FloatCC::GreaterThanOrEqual,
    }
}

/// See [`float_cc`]; `unsigned` picks the unsigned orderings.
pub(crate) fn int_cc(op: super::kernel::CmpOp, unsigned: bool) -> cranelift_codegen::ir::condcodes::IntCC {
    use super::kernel::CmpOp;
    use cranelift_codegen::ir::condcodes::IntCC;
    match op {
        CmpOp::Eq => IntCC::Equal,
        CmpOp::Lt if unsigned => IntCC::UnsignedLessThan,
        CmpOp::Lt => IntCC::SignedLessThan,
        CmpOp::Le if unsigned => IntCC::UnsignedLessThanOrEqual,
        CmpOp::Le => IntCC::SignedLessThanOrEqual,
        CmpOp::Gt if unsigned => IntCC::UnsignedGreaterThan,
        CmpOp::Gt => IntCC::SignedGreaterThan,
        CmpOp::Ge if unsigned => IntCC::UnsignedGreaterThanOrEqual,
        CmpOp::Ge => IntCC::SignedGreaterThanOrEqual,
    }
}

pub(crate) fn little() -> MemFlagsData {
    MemFlagsData::new().with_endianness(cranelift_codegen::ir::Endianness::Little)
}

/// Memory flags of every load and store: no trap, no alignment promise.
pub(crate) fn flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// The state of generating one kernel function.
pub(crate) struct Emit<'a, 'f> {
    pub b: &'a mut FunctionBuilder<'f>,
    refs: HashMap<MathFn, FuncRef>,
    bases: HashMap<u32, Value>,
    fail: Block,
    pub ptr: Type,
    /// Maps this kernel runs on SIMD lanes.
    pub vector_maps: usize,
    pool: PoolRef<'a>,
}

/// The lane constant pool as one kernel sees it: where its base address is
/// in the run table, and the register holding it now.
struct PoolRef<'a> {
    pool: &'a mut pool::LanePool,
    table: Value,
    slot: u32,
    base: Value,
}

impl Emit<'_, '_> {
    fn part(&mut self, part: &Part) -> Result<(), String> {
        match part {
            Part::Map { shape, out, inputs, expr } => self.map(shape, out, inputs, expr),
            Part::Matmul { batch, a, b, c, m, n, k } => self.matmul(batch, [a, b, c], *m, *n, *k),
            Part::Gemm(g) => self.gemm(g),
            Part::Reduce { kind, outer, reduced, input, out } => self.reduce(*kind, outer, reduced, input, out),
            Part::Softmax { log, lanes, n, input, out } => self.softmax(*log, lanes, *n, input, out),
            Part::LayerNorm { lanes, inner, x, scale, bias, out, eps } => {
                self.layer_norm(lanes, inner, [x, scale, bias, out], *eps)
            }
            Part::Conv(c) => self.conv(c),
            Part::ConvTranspose(c) => self.conv_transpose(c),
            Part::Resize(r) => self.resize(r),
            Part::NlTree(t) => self.nl_tree(t),
            Part::Runtime(call) => {
                let (call, table) = (self.b.ins().iconst(types::I64, call.address()), self.pool.table);
                let status = self.call(MathFn::Runtime, &[call, table])?;
                self.fail_if(status, crate::jit::kernel::FAIL_RUNTIME);
                Ok(())
            }
            Part::QGemm(_) => Err("internal error: a quantized matmul was not prepared".into()),
            Part::Gather { outer, extent, count, inner, data, indices, out } => {
                self.gather([*outer, *extent, *count, *inner], data, indices, out)
            }
        }
    }

    /// The address of an access's first element.
    pub fn start(&mut self, a: &super::kernel::Access) -> Result<Value, String> {
        let base = *self.bases.get(&a.place.slot).ok_or("internal error: a buffer slot has no base")?;
        let offset = a.place.offset as i64 + a.base * a.st.size() as i64;
        Ok(self.b.ins().iadd_imm_s(base, offset))
    }

    /// An access as a loop-nest view: start address and byte strides.
    pub fn view(&mut self, a: &super::kernel::Access) -> Result<(Value, Vec<i64>), String> {
        let size = a.st.size() as i64;
        Ok((self.start(a)?, a.strides.iter().map(|s| s * size).collect()))
    }

    /// Returns `code` from the kernel when `cond` (an integer) is non-zero.
    pub fn fail_if(&mut self, cond: Value, code: i64) {
        let cont = self.b.create_block();
        let code = self.b.ins().iconst(types::I32, code);
        self.b.ins().brif(cond, self.fail, &[BlockArg::Value(code)], cont, &[]);
        self.b.switch_to_block(cont);
        self.b.seal_block(cont);
    }

    /// Calls a runtime math function.
    pub fn call(&mut self, f: MathFn, args: &[Value]) -> Result<Value, String> {
        let r = *self.refs.get(&f).ok_or("internal error: math function not declared")?;
        let call = self.b.ins().call(r, args);
        self.b.inst_results(call).first().copied().ok_or_else(|| "internal error: call without result".into())
    }

    /// A 128-bit constant of vector type `ty`, loaded from the lane pool
    /// where it is used (see `pool`).
    pub fn pool_const(&mut self, ty: Type, bits: u128) -> Value {
        let offset = self.pool.pool.offset(bits);
        let f = flags().with_aligned().with_readonly().with_can_move();
        self.b.ins().load(ty, f, self.pool.base, offset)
    }

    /// Reads the pool's base address again, here: called at the top of a
    /// loop body, it keeps the constant loads of the body in the loop (they
    /// depend on it), where the x64 backend folds each into the instruction
    /// that uses it. (Hoisted out of the loop, a few dozen vector constants
    /// would not fit the registers and be spilled and reloaded.)
    pub fn reload_pool(&mut self) {
        let ptr = self.ptr;
        self.pool.base = self.b.ins().load(ptr, flags(), self.pool.table, (self.pool.slot * 8) as i32);
    }

    /// The register type of a storage: f32, f64, or i64 for integers.
    pub fn reg(st: Storage) -> Type {
        match st {
            Storage::F32 => types::F32,
            Storage::F64 => types::F64,
            _ => types::I64,
        }
    }
}
