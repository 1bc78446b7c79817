//! The hw dialect: how a program maps onto hardware. For nonlinear ops
//! (written by `share-nonlinear`, spec/hw.md): `hw.unit` declares a
//! hardware unit (its primitives with widths, its lanes, the modes it
//! serves and the resource model's estimate), and `hw.apply` marks the
//! end of the nl program of one nonlinear op with the unit and mode that
//! execute it.
//!
//! Invariants: hw ops never change a program's bits: `hw.unit` computes
//! nothing and `hw.apply` is the identity on its `value` operand, so the
//! interpreter and the JIT run a program with hw ops exactly as without
//! them; a unit's `primitives` rows are `[kind, a, b, out, modes]` with
//! non-negative integers, optionally `uses >= modes` and an array of
//! per-operand mux inputs (each at least 1).

pub mod engine;

use super::nn::common::int_attr;
use super::{Arity, AttrKind, AttrSpec, Dialect, OpDef, OpInfo, Trait};
use crate::attr::Attribute;
use crate::module::{Attrs, OpData};
use crate::{Diagnostic, Function};
use std::collections::BTreeMap;

/// The entries of an array-of-strings attribute.
fn strings(attrs: &Attrs, name: &str) -> Result<Vec<String>, String> {
    let bad = || format!("attribute '{name}' must be an array of strings");
    let Some(Attribute::Array(items)) = attrs.get(name) else { return Err(bad()) };
    items.iter().map(|a| a.as_str().map(str::to_string).ok_or_else(bad)).collect()
}

/// One row of a unit's `primitives`: `[kind, a, b, out, modes]`,
/// `[kind, a, b, out, modes, uses]` for a time-multiplexed instance
/// (`uses >= modes` evaluations per element), or `[kind, a, b, out,
/// modes, uses, [inputs...]]` with the inputs of each operand's mux
/// (each >= 1) when they are fewer than `uses`.
fn check_primitive_row(row: &Attribute) -> Result<(), String> {
    let bad = || {
        "each entry of 'primitives' must be [kind, a, b, out, modes], [kind, a, b, out, modes, uses] or \
[kind, a, b, out, modes, uses, [inputs]]: a string, four or five integers >= 0 and an array of integers >= 1"
            .to_string()
    };
    let Attribute::Array(items) = row else { return Err(bad()) };
    let (items, inputs) = match items.as_slice() {
        [head @ .., Attribute::Array(inputs)] => (head, Some(inputs)),
        all => (all, None),
    };
    let [Attribute::Str(kind), rest @ ..] = items else { return Err(bad()) };
    if crate::hwcost::PrimitiveKind::from_name(kind).is_none() {
        return Err(format!(
            "unknown primitive kind '{kind}' in 'primitives' (the resource model's kinds: spec/hw.md)"
        ));
    }
    let ints: Option<Vec<i64>> = rest.iter().map(|a| a.as_int().filter(|&v| v >= 0)).collect();
    if let Some(inputs) = inputs {
        let ok = rest.len() == 5 && !inputs.is_empty() && inputs.iter().all(|a| a.as_int().is_some_and(|v| v >= 1));
        if !ok {
            return Err(bad());
        }
    }
    match ints.as_deref() {
        Some([_, _, _, _]) => Ok(()),
        Some([_, _, _, modes, uses]) if uses >= modes => Ok(()),
        Some([_, _, _, _, _]) => Err("a row's 'uses' (its sixth entry) must be at least its 'modes'".into()),
        _ => Err(bad()),
    }
}

/// The optional `ii` of a unit: one initiation interval >= 1 per mode.
fn check_ii(attrs: &Attrs, modes: usize) -> Result<(), String> {
    let Some(ii) = attrs.get("ii") else { return Ok(()) };
    let bad = || format!("attribute 'ii' must be an array of {modes} integers >= 1, one per mode");
    let Attribute::Array(items) = ii else { return Err(bad()) };
    if items.len() != modes || !items.iter().all(|a| a.as_int().is_some_and(|v| v >= 1)) {
        return Err(bad());
    }
    Ok(())
}

fn verify_unit(info: &OpInfo) -> Result<(), String> {
    let name = info.attrs.get("name").and_then(Attribute::as_str).unwrap_or("");
    if name.is_empty() {
        return Err("attribute 'name' must be a non-empty string".into());
    }
    let modes = strings(info.attrs, "modes")?;
    if modes.is_empty() {
        return Err("attribute 'modes' must name at least one mode".into());
    }
    check_ii(info.attrs, modes.len())?;
    if int_attr(info.attrs, "lanes")? < 1 {
        return Err("attribute 'lanes' must be at least 1".into());
    }
    let Some(Attribute::Array(rows)) = info.attrs.get("primitives") else {
        return Err("attribute 'primitives' must be an array".into());
    };
    rows.iter().try_for_each(check_primitive_row)?;
    for r in ["lut", "ff", "dsp", "bram18"] {
        if int_attr(info.attrs, r)? < 0 {
            return Err(format!("attribute '{r}' must be >= 0"));
        }
    }
    Ok(())
}

const RESOURCE_DOC: &str = "the resource model's estimate for the whole unit (spec/hw.md)";

pub const UNIT: OpDef = OpDef {
    name: "hw.unit",
    summary: "Declares a hardware unit: primitives with widths, lanes, and the modes it serves",
    description: "A unit that executes the nl programs of one or more nonlinear op kinds \
(its modes). `primitives` lists its primitive instances, one row `[kind, a, b, out, modes]` \
each: the primitive kind of the resource model (`exp2`, `log2`, `adder`, `multiplier`, \
`add-tree`, ...), its widths (`a` the widest operand, `b` the second operand or, for tables, \
the entries, for `exp2`/`log2`, the coefficient rows and, for a `rounding-shift`, the bits it keeps; `out` the result) and how many modes \
use it (a primitive used by several modes has a mode mux on its operands); an optional sixth \
entry `uses` counts its evaluations per element over all modes when it is time-multiplexed (a \
mode with an initiation interval above 1 runs several of its ops on it, spec/hw.md); an optional \
seventh entry, an array, gives the inputs of each non-constant operand's mux when evaluations \
share a wire (an operand that is the output of the same instance in two modes needs no mux \
input of its own; without it, every evaluation is an input). `ii`, \
when present, gives each mode's initiation interval (cycles per element per lane; absent: 1). \
Every primitive but the trees exists once per lane. `lut`, `ff`, `dsp` and `bram18` are the model's estimate of \
the whole unit. The op computes nothing; `hw.apply` ops name the unit by `name`.\n\n\
```\n\"hw.unit\"() {bram18 = 0, dsp = 64, ff = 9000, lanes = 16, lut = 12000, modes = [\"softmax\", \"gelu\"], \
name = \"nonlinear\", primitives = [[\"exp2\", 25, 4, 18, 2], [\"log2\", 19, 4, 24, 2]]} : () -> ()\n```",
    operands: Arity::Fixed(&[]),
    results: Arity::Fixed(&[]),
    attrs: &[
        AttrSpec { name: "name", kind: AttrKind::Str, required: true, doc: "the unit's name, unique in the function" },
        AttrSpec { name: "modes", kind: AttrKind::Any, required: true, doc: "the op kinds it serves (strings)" },
        AttrSpec { name: "lanes", kind: AttrKind::Int, required: true, doc: "elements per cycle, >= 1" },
        AttrSpec {
            name: "primitives",
            kind: AttrKind::Any,
            required: true,
            doc: "rows [kind, a, b, out, modes] or [kind, a, b, out, modes, uses]: the primitive instances of one lane",
        },
        AttrSpec {
            name: "ii",
            kind: AttrKind::Any,
            required: false,
            doc: "per mode, the initiation interval (cycles per element per lane), >= 1; absent: all 1",
        },
        AttrSpec { name: "lut", kind: AttrKind::Int, required: true, doc: RESOURCE_DOC },
        AttrSpec { name: "ff", kind: AttrKind::Int, required: true, doc: RESOURCE_DOC },
        AttrSpec { name: "dsp", kind: AttrKind::Int, required: true, doc: RESOURCE_DOC },
        AttrSpec { name: "bram18", kind: AttrKind::Int, required: true, doc: RESOURCE_DOC },
    ],
    traits: &[],
    verify: Some(verify_unit),
    eval: Some(|_, _, _| Ok(Vec::new())),
    ..OpDef::DEFAULT
};

pub const APPLY: OpDef = OpDef {
    name: "hw.apply",
    summary: "The result of one nonlinear op's nl program, executed by a unit in a mode",
    description: "The identity on `value`: it marks `value` as the result of the nl program \
that implements one nonlinear op on the unit named `unit` in mode `mode`, with the method \
`method` (`quark`, `ibert` or `lut`, spec/nl.md); `input` is the op's input, where the program \
starts (the program is every op between `input` and `value`). `impl` is the datapath \
share-nonlinear's e-graph extracted for the op kind.\n\n\
```\n%3 = hw.apply %0, %2 {method = \"quark\", mode = \"softmax\", unit = \"nonlinear\"} : \
(tensor<4x8x!quant.int<w=8, signed, scale=0.1, zp=0>>, tensor<4x8x!quant.int<w=8, unsigned, scale=0.0039, zp=0>>) \
-> tensor<4x8x!quant.int<w=8, unsigned, scale=0.0039, zp=0>>\n```",
    operands: Arity::Fixed(&["input", "value"]),
    results: Arity::Fixed(&["result"]),
    attrs: &[
        AttrSpec { name: "unit", kind: AttrKind::Str, required: true, doc: "the name of the hw.unit" },
        AttrSpec { name: "mode", kind: AttrKind::Str, required: true, doc: "the op kind the unit runs" },
        AttrSpec { name: "method", kind: AttrKind::Str, required: true, doc: "quark, ibert or lut" },
        AttrSpec { name: "impl", kind: AttrKind::Str, required: false, doc: "the extracted datapath term" },
    ],
    traits: &[Trait::Pure],
    infer: Some(|info| {
        info.operand_types.get(1).map(|t| vec![(*t).clone()]).ok_or_else(|| "expects 2 operands".to_string())
    }),
    eval: Some(|ops, _, _| ops.get(1).cloned().map(|t| vec![t]).ok_or_else(|| "expects 2 operands".to_string())),
    ..OpDef::DEFAULT
};

pub static DIALECT: Dialect = Dialect {
    name: "hw",
    summary: "Hardware mapping: shared nonlinear units and which op runs on which",
    description: "The level `share-nonlinear` writes (spec/hw.md): `hw.unit` declares a unit \
(primitives, widths, lanes, modes, estimated resources) and `hw.apply` ends the nl program of \
each nonlinear op with the unit and mode that execute it. hw ops do not change what a program \
computes: the interpreter and the JIT give the same bits with and without them.",
    ops: &[UNIT, APPLY, engine::ENGINE],
};

/// The function-wide checks of the hw ops (the verifier runs them after
/// the per-op checks): unit names are unique, and every `hw.apply` names
/// a `hw.unit` of its function and one of that unit's modes.
pub fn check_units(f: &Function) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut units: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let error = |data: &OpData, message: String| {
        Diagnostic::error(format!("'{}' op {message}", data.name()), data.span).with_loc(data.loc.clone())
    };
    let ops = f.walk();
    for &op in &ops {
        let Some(data) = f.ops.get(op).filter(|d| d.name() == UNIT.name) else { continue };
        let Some(name) = data.attrs.get("name").and_then(Attribute::as_str) else { continue };
        if units.contains_key(name) {
            out.push(error(data, format!("redefines unit '{name}' (unit names are unique in a function)")));
        }
        units.insert(name.to_string(), strings(&data.attrs, "modes").unwrap_or_default());
    }
    for &op in &ops {
        let Some(data) = f.ops.get(op).filter(|d| d.name() == APPLY.name) else { continue };
        let Some(unit) = data.attrs.get("unit").and_then(Attribute::as_str) else { continue };
        let mode = data.attrs.get("mode").and_then(Attribute::as_str).unwrap_or_default();
        match units.get(unit) {
            None => {
                out.push(error(data, format!("names unit '{unit}', but the function declares no hw.unit of that name")))
            }
            Some(modes) if !modes.iter().any(|m| m == mode) => out.push(error(
                data,
                format!("runs unit '{unit}' in mode '{mode}', which is not among its modes [{}]", modes.join(", ")),
            )),
            Some(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::Attrs;

    fn unit_attrs(rows: Attribute) -> Attrs {
        let mut a = Attrs::new();
        a.insert("name".into(), Attribute::Str("u".into()));
        a.insert("modes".into(), Attribute::Array(vec![Attribute::Str("softmax".into())]));
        a.insert("lanes".into(), Attribute::Int(4));
        a.insert("primitives".into(), rows);
        for r in ["lut", "ff", "dsp", "bram18"] {
            a.insert(r.into(), Attribute::Int(0));
        }
        a
    }

    #[test]
    fn unit_rows_are_checked() {
        let good = Attribute::Array(vec![Attribute::Array(vec![
            Attribute::Str("exp2".into()),
            Attribute::Int(24),
            Attribute::Int(4),
            Attribute::Int(18),
            Attribute::Int(1),
        ])]);
        assert_eq!(verify_unit(&OpInfo::new(&[], &unit_attrs(good))), Ok(()));
        let bad = Attribute::Array(vec![Attribute::Array(vec![Attribute::Str("exp2".into()), Attribute::Int(-1)])]);
        let e = verify_unit(&OpInfo::new(&[], &unit_attrs(bad))).unwrap_err();
        assert!(e.contains("[kind, a, b, out, modes]"), "{e}");
        let row = |uses| {
            let ints = [24, 4, 18, 1, uses].map(Attribute::Int);
            Attribute::Array(vec![Attribute::Array(
                std::iter::once(Attribute::Str("exp2".into())).chain(ints).collect(),
            )])
        };
        assert_eq!(verify_unit(&OpInfo::new(&[], &unit_attrs(row(3)))), Ok(()));
        let e = verify_unit(&OpInfo::new(&[], &unit_attrs(row(0)))).unwrap_err();
        assert!(e.contains("at least its 'modes'"), "{e}");
    }

    #[test]
    fn unit_ii_has_one_entry_per_mode() {
        let mut a = unit_attrs(Attribute::Array(vec![]));
        a.insert("ii".into(), Attribute::Array(vec![Attribute::Int(3)]));
        assert_eq!(verify_unit(&OpInfo::new(&[], &a)), Ok(()));
        a.insert("ii".into(), Attribute::Array(vec![Attribute::Int(3), Attribute::Int(1)]));
        let e = verify_unit(&OpInfo::new(&[], &a)).unwrap_err();
        assert!(e.contains("one per mode"), "{e}");
        a.insert("ii".into(), Attribute::Array(vec![Attribute::Int(0)]));
        assert!(verify_unit(&OpInfo::new(&[], &a)).is_err());
    }
}
