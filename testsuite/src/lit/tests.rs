//! Tests of the lit runner on small files written to a temporary
//! directory.

use super::*;
use crate::test_dialect::test_context;

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("weft-lit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn run(&self, text: &str) -> Result<LitResult, LitFailure> {
        let path = self.0.join("case.weft");
        std::fs::write(&path, text).unwrap();
        run_lit_file(&path, &test_context(), &PassRegistry::with_builtin_passes())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const OK_CASE: &str = "func @f(%x: tensor<2xf32>) -> tensor<2xf32> {\n  %0 = nn.exp %x : tensor<2xf32>\n  \
                       %1 = nn.exp %x : tensor<2xf32>\n  return %1 : tensor<2xf32>\n}\n";

#[test]
fn a_passing_file_outputs_module_then_log_per_case() {
    let s = Scratch::new("pass");
    let text = format!("// RUN: weft opt %s --passes 'cse,dce' --time-passes\n{OK_CASE}// -----\n{OK_CASE}");
    let r = s.run(&text).unwrap();
    assert_eq!(r.cases, 2);
    let parts: Vec<&str> = r.output.split("// -----\n").collect();
    assert_eq!(parts.len(), 2, "{}", r.output);
    assert_eq!(parts[0], parts[1]);
    assert!(parts[0].starts_with("module {\n"), "{}", parts[0]);
    assert_eq!(parts[0].matches("nn.exp").count(), 1, "{}", parts[0]);
    assert!(parts[0].contains("<time>"), "{}", parts[0]);
    assert!(!parts[0].contains("s ("), "timings are masked: {}", parts[0]);
}

#[test]
fn expected_errors_produce_rendered_diagnostics_with_file_lines() {
    let s = Scratch::new("expected");
    let text = format!(
        "// RUN: weft opt %s\n{OK_CASE}// -----\nfunc @g(%x: tensor<2xf32>) {{\n  \
         // expected-error @+1 {{{{unknown op}}}}\n  %0 = nn.nope %x : tensor<2xf32>\n  return\n}}\n"
    );
    let r = s.run(&text).unwrap();
    let second = r.output.split("// -----\n").nth(1).unwrap();
    assert!(second.starts_with("error"), "{second}");
    assert!(second.contains("case.weft:10:"), "the file's line number: {second}");
}

#[test]
fn a_missing_expected_error_fails_at_the_case() {
    let s = Scratch::new("missing");
    let text = format!("// RUN: weft opt %s\n// -----\n// expected-error @+2 {{{{boom}}}}\n{OK_CASE}");
    let f = s.run(&text).unwrap_err();
    assert_eq!(f.line, Some(3));
    assert_eq!(f.kind, FailureKind::Run);
    assert!(f.message.contains("expected error at line 5 {{boom}}"), "{}", f.message);
    assert!(f.to_string().contains("case.weft:3: case at line 3: "), "{f}");
}

#[test]
fn an_unexpected_error_fails() {
    let s = Scratch::new("unexpected");
    let f = s
        .run("// RUN: weft opt %s\nfunc @g(%x: tensor<2xf32>) {\n  %0 = nn.nope %x : tensor<2xf32>\n  return\n}\n")
        .unwrap_err();
    assert!(f.message.contains("unexpected error at line 3"), "{}", f.message);
}

#[test]
fn bad_run_lines_fail_on_line_1() {
    let s = Scratch::new("run");
    for (run, why) in [
        ("// RUN: weft opt %s --pases cse", "unexpected argument '--pases'"),
        ("// RUN: weft opt %s --passes nope", "unknown pass 'nope'"),
        ("// RUN: weft opt %s -o out.weft", "-o is not allowed"),
        ("// RUN: weft opt %s --passes 'cse", "unterminated single quote"),
        ("func @f() {", "the first line must be"),
    ] {
        let f = s.run(&format!("{run}\n{OK_CASE}")).unwrap_err();
        assert_eq!(f.line, Some(1), "{run}");
        assert!(f.message.contains(why), "{run}: {}", f.message);
    }
}

#[test]
fn unreadable_and_non_utf8_files_fail() {
    let s = Scratch::new("bytes");
    let path = s.0.join("bad.weft");
    std::fs::write(&path, b"// RUN: weft opt %s\n\xff\n").unwrap();
    let registry = PassRegistry::with_builtin_passes();
    let f = run_lit_file(&path, &test_context(), &registry).unwrap_err();
    assert!(f.message.contains("not UTF-8"), "{}", f.message);
    let f = run_lit_file(&s.0.join("missing.weft"), &test_context(), &registry).unwrap_err();
    assert!(f.message.starts_with("cannot read the file"), "{}", f.message);
}

#[test]
fn round_trip_failures_are_reported() {
    use weft_ir::{Function, NewOp, Type};
    let t: Type = weft_ir::TensorType::fixed(&[2], weft_ir::ElemType::F32).into();
    let ctx = test_context();
    let opaque = ctx.lookup("test.opaque").unwrap();
    let mut f = Function::new("f", vec![], vec![]);
    // The result of an op that is in no block has no printed name: it
    // prints as `%<v0>`, which does not parse.
    let detached = f.create_op(NewOp::new(opaque, vec![], vec![t]));
    let value = f.ops[detached].results[0];
    let body = f.body;
    f.append_op(body, NewOp::new(opaque, vec![value], vec![]));
    let module = weft_ir::Module { funcs: vec![f], ..Default::default() };
    let e = check_round_trip(&ctx, &module).unwrap_err();
    assert!(e.starts_with("the printed form does not parse at 3:"), "{e}");
}
