//! Integration tests of the `weft` binary: exit codes, standard
//! input/output, atomic `-o` output with resources, `--emit dot`, input
//! that is not UTF-8, `weft test`, `weft passes`, `--help`, `--version`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod cli_util;
use cli_util::{code, files_in, path_str, stderr, stdout, weft};

fn scratch_cli(name: &str) -> PathBuf {
    cli_util::scratch(&format!("cli-{name}"))
}
use weft_ir::resources::{Resource, Resources};
use weft_ir::ElemType;

const MODULE: &str = "func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = nn.exp %x : tensor<2xf32>
  %1 = nn.exp %x : tensor<2xf32>
  %2 = nn.add %0, %1 : tensor<2xf32>
  return %2 : tensor<2xf32>
}
";

fn weft_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // weft may exit before reading its input (a usage error): ignore a
    // broken pipe.
    let _ = child.stdin.take().unwrap().write_all(input);
    child.wait_with_output().unwrap()
}

#[test]
fn non_utf8_input_is_a_located_error() {
    let dir = scratch_cli("utf8");
    let file = dir.join("bad.weft");
    std::fs::write(&file, b"func @f() {\n  return \xff\xfe\n}\n").unwrap();
    let o = weft(&["opt", path_str(&file)]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("not valid UTF-8"), "{err}");
    assert!(err.contains("bad.weft:2:10"), "{err}");
    assert!(stdout(&o).is_empty());
}

#[test]
fn stdin_to_stdout_with_dash() {
    let o = weft_stdin(&["opt", "-", "--passes", "cse,dce"], MODULE.as_bytes());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("module {\n  func @f"), "{out}");
    assert_eq!(out.matches("nn.exp").count(), 1, "{out}");
    let o = weft_stdin(&["opt", "-", "-o", "-"], MODULE.as_bytes());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o).matches("nn.exp").count(), 2);
}

#[test]
fn parse_errors_exit_1_with_rendered_diagnostics_on_stderr() {
    let o =
        weft_stdin(&["opt", "-"], b"func @f(%x: tensor<2xf32>) {\n  %0 = nn.addd %x : tensor<2xf32>\n  return\n}\n");
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(err.starts_with("error: unknown op 'nn.addd'\n"), "{err}");
    assert!(err.contains("<stdin>:2:8"), "{err}");
    assert!(err.contains("did you mean 'nn.add'"), "{err}");
    assert!(stdout(&o).is_empty());
}

#[test]
fn unknown_pass_or_option_is_a_usage_error() {
    let o = weft_stdin(&["opt", "-", "--passes", "cse,no-such-pass"], MODULE.as_bytes());
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("no-such-pass"), "{}", stderr(&o));
    let o = weft_stdin(&["opt", "-", "--passes", "cse{bogus=1}"], MODULE.as_bytes());
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("bogus"), "{}", stderr(&o));
    let o = weft_stdin(&["opt", "-", "--passes", "cse{"], MODULE.as_bytes());
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn usage_is_checked_before_the_input_is_read() {
    let o = weft(&["opt", "/nonexistent/x.weft", "--passes", "no-such-pass"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn bad_arguments_exit_2() {
    assert_eq!(code(&weft(&["opt"])), 2);
    assert_eq!(code(&weft(&["frobnicate"])), 2);
    assert_eq!(code(&weft(&["opt", "-", "--emit", "llvm"])), 2);
    assert_eq!(code(&weft(&[])), 2);
}

#[test]
fn unreadable_input_exits_1() {
    let o = weft(&["opt", "/nonexistent/x.weft"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("cannot read '/nonexistent/x.weft'"), "{}", stderr(&o));
}

#[test]
fn output_file_is_written_atomically() {
    let dir = scratch_cli("atomic");
    let input = dir.join("in.weft");
    let out = dir.join("out.weft");
    std::fs::write(&input, MODULE).unwrap();
    let o = weft(&["opt", path_str(&input), "--passes", "cse", "-o", path_str(&out)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written.matches("nn.exp").count(), 1, "{written}");
    assert_eq!(files_in(&dir), ["in.weft", "out.weft"]);

    // An error leaves the previous output untouched and no temporary file.
    std::fs::write(&input, "func @f( {").unwrap();
    let o = weft(&["opt", path_str(&input), "-o", path_str(&out)]);
    assert_eq!(code(&o), 1);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), written);
    assert_eq!(files_in(&dir), ["in.weft", "out.weft"]);

    // So does a failing run into a new file.
    let fresh = dir.join("fresh.weft");
    let o = weft(&["opt", path_str(&input), "-o", path_str(&fresh)]);
    assert_eq!(code(&o), 1);
    assert_eq!(files_in(&dir), ["in.weft", "out.weft"]);
}

#[test]
fn output_into_a_missing_directory_exits_1() {
    let o = weft_stdin(&["opt", "-", "-o", "/nonexistent-dir/out.weft"], MODULE.as_bytes());
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("cannot write '/nonexistent-dir/out.weft'"), "{}", stderr(&o));
}

#[test]
fn resources_are_read_from_and_written_to_sidecars() {
    let dir = scratch_cli("resources");
    let input = dir.join("model.weft");
    std::fs::write(
        &input,
        "func @f(%x: tensor<2xf32>) -> tensor<2xf32> {\n\
         \x20 %w = constant dense_resource<w> : tensor<2xf32>\n\
         \x20 %0 = nn.add %x, %w : tensor<2xf32>\n\
         \x20 return %0 : tensor<2xf32>\n}\n",
    )
    .unwrap();
    let bytes: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut res = Resources::new();
    res.insert("w", Resource::new(ElemType::F32, vec![2], bytes).unwrap());
    res.save(&dir.join("model.safetensors")).unwrap();

    let out = dir.join("out.weft");
    let o = weft(&["opt", path_str(&input), "-o", path_str(&out)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(files_in(&dir), ["model.safetensors", "model.weft", "out.safetensors", "out.weft"]);
    assert_eq!(Resources::load(&dir.join("out.safetensors")).unwrap(), res);
    assert!(std::fs::read_to_string(&out).unwrap().contains("dense_resource<w>"));
}

#[test]
fn emit_dot() {
    let o = weft_stdin(&["opt", "-", "--emit", "dot"], MODULE.as_bytes());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("digraph"), "{out}");
    assert!(out.contains("nn.exp"), "{out}");
}

#[test]
fn logs_go_to_stderr() {
    let o = weft_stdin(&["opt", "-", "--passes", "cse", "--time-passes", "--stats"], MODULE.as_bytes());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("cse"), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("module {"));
}

#[test]
fn passes_lists_every_builtin_pass_with_options() {
    let o = weft(&["passes"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    for name in ["canonicalize", "fold", "dce", "cse", "commutative", "max-elements"] {
        assert!(out.contains(name), "{name} missing from:\n{out}");
    }
}

#[test]
fn version_and_help() {
    let o = weft(&["--version"]);
    assert_eq!(code(&o), 0);
    assert_eq!(stdout(&o).trim(), format!("weft {}", env!("CARGO_PKG_VERSION")));
    for sub in ["opt", "test", "passes"] {
        let o = weft(&[sub, "--help"]);
        assert_eq!(code(&o), 0);
        assert!(stdout(&o).contains("Examples:"), "{sub}: {}", stdout(&o));
    }
}

#[test]
fn weft_test_reports_each_failing_file_and_a_summary() {
    let dir = scratch_cli("test");
    std::fs::create_dir_all(dir.join("snapshots")).unwrap();
    let good = "// RUN: weft opt %s\nfunc @f() {\n  return\n}\n";
    std::fs::write(dir.join("good.weft"), good).unwrap();
    std::fs::write(
        dir.join("snapshots/good.snap"),
        "---\nsource: tests/cli.rs\n---\nmodule {\n  func @f() {\n    return\n  }\n}\n",
    )
    .unwrap();
    std::fs::write(dir.join("unsnapshotted.weft"), good).unwrap();
    std::fs::write(dir.join("wrong.weft"), "// RUN: weft opt %s\nfunc @g() {\n  return\n}\n").unwrap();
    std::fs::copy(dir.join("snapshots/good.snap"), dir.join("snapshots/wrong.snap")).unwrap();
    std::fs::write(dir.join("unexpected.weft"), "// RUN: weft opt %s\nfunc @f() {\n  %0 = nn.nope\n  return\n}\n")
        .unwrap();

    let o = weft(&["test", path_str(&dir)]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.iter().filter(|l| l.starts_with("FAIL ")).count(), 3, "{out}");
    assert!(out.contains("unsnapshotted.weft: no snapshot at"), "{out}");
    assert!(out.contains("wrong.weft: output line 2 differs"), "{out}");
    assert!(out.contains("unexpected.weft:"), "{out}");
    assert_eq!(lines.last(), Some(&"1 passed, 3 failed"), "{out}");
    assert!(out.contains("INSTA_UPDATE=always"), "{out}");

    let o = weft(&["test", path_str(&dir.join("good.weft"))]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert_eq!(stdout(&o).lines().last(), Some("1 passed, 0 failed"));
}

#[test]
fn weft_test_passes_on_the_checked_in_lit_files() {
    let lit = Path::new(env!("CARGO_MANIFEST_DIR")).join("testsuite/lit");
    let o = weft(&["test", path_str(&lit)]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).trim_end().ends_with(" passed, 0 failed"), "{}", stdout(&o));
}

#[test]
fn weft_test_on_a_missing_path_fails() {
    let o = weft(&["test", "/nonexistent/lit"]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("0 passed, 1 failed"), "{}", stdout(&o));
}
