//! Loop nests over static shapes: the elementwise skeleton every
//! broadcasting op uses, row-major index arithmetic, and the lanes of the
//! nonlinear loops.
//!
//! Invariants: the generated nest visits the output in row-major order; the
//! innermost loop carries `#pragma HLS PIPELINE II=1`; an operand's index
//! uses stride 0 along the dims it broadcasts over (numpy rules: shapes
//! aligned at the right, extent 1 repeats).

use std::fmt::Write as _;

/// Row-major strides of `shape`.
pub fn strides(shape: &[u64]) -> Vec<u64> {
    let mut s = vec![1u64; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1].max(1);
    }
    s
}

/// The strides of an operand of `shape` read at the indices of `out`
/// (broadcast dims get 0).
pub fn broadcast_strides(shape: &[u64], out: &[u64]) -> Vec<u64> {
    let own = strides(shape);
    let pad = out.len().saturating_sub(shape.len());
    (0..out.len())
        .map(|d| match d.checked_sub(pad) {
            Some(k) if shape.get(k).copied().unwrap_or(1) != 1 => own[k],
            _ => 0,
        })
        .collect()
}

/// `i0 * s0 + i1 * s1 + ...` (or `0`).
pub fn index_expr(strides: &[u64]) -> String {
    let terms: Vec<String> = strides
        .iter()
        .enumerate()
        .filter(|(_, &s)| s != 0)
        .map(|(d, &s)| if s == 1 { format!("i{d}") } else { format!("i{d} * {s}LL") })
        .collect();
    if terms.is_empty() {
        "0".into()
    } else {
        terms.join(" + ")
    }
}

/// A loop nest over `out`, with `const long long o` (the output index) and
/// `x0, x1, ...` (each operand's index) defined before `body`.
pub fn elementwise(out: &[u64], operands: &[&[u64]], body: &str) -> String {
    let mut s = String::new();
    let depth = out.len();
    for (d, &n) in out.iter().enumerate() {
        let _ = writeln!(s, "{}for (long long i{d} = 0; i{d} < {n}LL; ++i{d}) {{", indent(d));
        if d + 1 == depth {
            let _ = writeln!(s, "{}#pragma HLS PIPELINE II=1", indent(d + 1));
        }
    }
    let inner = indent(depth);
    let _ = writeln!(s, "{inner}{{");
    let _ = writeln!(s, "{inner}  const long long o = {};", index_expr(&strides(out)));
    for (k, shape) in operands.iter().enumerate() {
        let _ = writeln!(s, "{inner}  const long long x{k} = {};", index_expr(&broadcast_strides(shape, out)));
        let _ = writeln!(s, "{inner}  (void)x{k};");
    }
    for line in body.lines() {
        let _ = writeln!(s, "{inner}  {line}");
    }
    let _ = writeln!(s, "{inner}}}");
    for d in (0..depth).rev() {
        let _ = writeln!(s, "{}}}", indent(d));
    }
    s
}

/// `code` with `#pragma HLS UNROLL factor=lanes` after each pipelined
/// loop's `PIPELINE` directive: `lanes` elements per cycle (the nonlinear
/// unit's parameter). `lanes <= 1` leaves `code` as it is.
pub fn with_lanes(code: &str, lanes: u32) -> String {
    if lanes <= 1 {
        return code.to_string();
    }
    let mut s = String::with_capacity(code.len());
    for line in code.lines() {
        s.push_str(line);
        s.push('\n');
        if line.trim() == "#pragma HLS PIPELINE II=1" {
            let indent = &line[..line.len() - line.trim_start().len()];
            let _ = writeln!(s, "{indent}#pragma HLS UNROLL factor={lanes}");
        }
    }
    s
}

fn indent(d: usize) -> String {
    "  ".repeat(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_strides() {
        assert_eq!(strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(broadcast_strides(&[3, 1], &[2, 3, 4]), vec![0, 1, 0]);
        assert_eq!(broadcast_strides(&[], &[2, 3]), vec![0, 0]);
        assert_eq!(index_expr(&[0, 4, 1]), "i1 * 4LL + i2");
        assert_eq!(index_expr(&[0, 0]), "0");
    }

    #[test]
    fn nests_visit_every_output() {
        let s = elementwise(&[2, 3], &[&[3]], "y[o] = a[x0];");
        assert!(s.contains("for (long long i1 = 0; i1 < 3LL; ++i1) {\n    #pragma HLS PIPELINE II=1"), "{s}");
        assert!(s.contains("const long long o = i0 * 3LL + i1;"), "{s}");
        assert!(s.contains("const long long x0 = i1;"), "{s}");
        let four = with_lanes(&s, 4);
        assert!(four.contains("#pragma HLS PIPELINE II=1\n    #pragma HLS UNROLL factor=4\n"), "{four}");
        assert_eq!(with_lanes(&s, 1), s);
        let scalar = elementwise(&[], &[], "y[o] = 1;");
        assert!(scalar.contains("const long long o = 0;"), "{scalar}");
    }
}
