//! Integration tests of `weft import`, `weft run` and `weft info`: exit
//! codes, outputs, atomic writes, and bad input (garbage, truncated models,
//! missing or malformed inputs).

use std::path::{Path, PathBuf};

mod cli_util;
use cli_util::{code, files_in, path_str as p, stderr, stdout, weft};

fn scratch_onnx(name: &str) -> PathBuf {
    cli_util::scratch(&format!("cli-onnx-{name}"))
}

/// x * sigmoid(x) over [batch, 3], and x + 1 as a second output.
const SILU: &str = r#"<ir_version: 8, opset_import: ["" : 17], producer_name: "weft-tests">
silu (float[batch,3] x) => (float[batch,3] y, float[batch,3] plus)
   <float one = {1.0}>
{
   s = Sigmoid (x)
   y = Mul (x, s)
   plus = Add (x, one)
}
"#;

/// A node weft does not import.
const UNSUPPORTED: &str = r#"<ir_version: 8, opset_import: ["" : 17]>
g (float[2] x) => (float[2] y) {
   a = LeakyRelu <alpha: float = 0.1> (x)
   y = Relu (a)
}
"#;

/// An nn module: y = exp(x) + x.
const NN_MODULE: &str = "func @main(%x: tensor<[n]xf32>) -> tensor<[n]xf32> {
  %0 = nn.exp %x : tensor<[n]xf32>
  %1 = nn.add %0, %x : tensor<[n]xf32>
  return %1 : tensor<[n]xf32>
}
";

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn npy_f32(shape: &[u64], values: &[f32]) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = npyz::WriteOptions::<f32>::new().default_dtype().shape(shape).writer(&mut buf).begin_nd().unwrap();
    w.extend(values.iter().copied()).unwrap();
    w.finish().unwrap();
    buf
}

fn read_npy_f32(path: &Path) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().to_vec();
    (shape, npy.into_vec::<f32>().unwrap())
}

use npyz::WriterBuilder;

fn silu(v: f32) -> f32 {
    v / (1.0 + (-v).exp())
}

#[test]
fn import_writes_the_module_and_its_resources_atomically() {
    let dir = scratch_onnx("import");
    let model = write(&dir, "silu.onnxtxt", SILU.as_bytes());
    let out = dir.join("silu.weft");
    let o = weft(&["import", p(&model), "--input-shape", "x=2x3", "-o", p(&out)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("func @main(%arg0: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>)"), "{text}");
    assert!(text.contains("onnx.Sigmoid"), "{text}");
    // One inline constant, no resources: no sidecar.
    assert_eq!(files_in(&dir), ["silu.onnxtxt", "silu.weft"]);
    // weft opt reads the module back (the onnx dialect is registered).
    let o = weft(&["opt", p(&out)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), text);
    // --inline-limit 0 makes every constant a resource.
    let o = weft(&["import", p(&model), "--inline-limit", "0", "-o", p(&out)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(files_in(&dir), ["silu.onnxtxt", "silu.safetensors", "silu.weft"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn import_errors_exit_1_and_write_nothing() {
    let dir = scratch_onnx("import-errors");
    let out = dir.join("out.weft");
    let garbage = write(&dir, "garbage.onnx", b"\x08\x07this is not a protobuf model\xff\xff\xff");
    let o = weft(&["import", p(&garbage), "-o", p(&out)]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("garbage.onnx"), "{}", stderr(&o));
    let fixture = std::fs::read("frontend/tests/fixtures/onnx/mlp.onnx").unwrap();
    let truncated = write(&dir, "truncated.onnx", &fixture[..fixture.len() / 2]);
    let o = weft(&["import", p(&truncated), "-o", p(&out)]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("truncated.onnx"), "{}", stderr(&o));
    let unsupported = write(&dir, "leaky.onnxtxt", UNSUPPORTED.as_bytes());
    let o = weft(&["import", p(&unsupported), "-o", p(&out)]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("unsupported ONNX op 'LeakyRelu' in node 'LeakyRelu_0' (domain '', opset 17)"),
        "{}",
        stderr(&o)
    );
    let bad_text = write(&dir, "bad.onnxtxt", b"<ir_version: 8>\ng (float[2] x) => (float[2] y) {\n y = Relu(x\n}\n");
    let o = weft(&["import", p(&bad_text)]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("bad.onnxtxt:"), "a located text error: {}", stderr(&o));
    let o = weft(&["import", p(&dir.join("missing.onnx"))]);
    assert_eq!(code(&o), 1);
    assert!(files_in(&dir).iter().all(|f| !f.starts_with("out")), "{:?}", files_in(&dir));
    let o = weft(&["import", p(&garbage), "--input-shape", "x=2xq"]);
    assert_eq!(code(&o), 2, "a malformed flag is a usage error");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_writes_one_npy_per_output() {
    let dir = scratch_onnx("run");
    let model = write(&dir, "silu.onnxtxt", SILU.as_bytes());
    let x = [-1.0f32, 0.0, 2.0, 0.5, 3.0, -4.0];
    let input = write(&dir, "x.npy", &npy_f32(&[2, 3], &x));
    let out = dir.join("out");
    let o = weft(&["run", p(&model), "--input", &format!("x={}", p(&input)), "-o", p(&out)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(files_in(&out), ["plus.npy", "y.npy"]);
    let (shape, y) = read_npy_f32(&out.join("y.npy"));
    assert_eq!(shape, [2, 3]);
    for (got, v) in y.iter().zip(x) {
        assert!((got - silu(v)).abs() < 1e-6, "{y:?}");
    }
    let (_, plus) = read_npy_f32(&out.join("plus.npy"));
    assert_eq!(plus, x.map(|v| v + 1.0));
    // Into the existing directory again: files are replaced, no
    // temporaries remain.
    let o = weft(&["run", p(&model), "--input", &format!("x={}", p(&input)), "-o", p(&out)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(files_in(&out), ["plus.npy", "y.npy"]);
    assert!(files_in(&dir).iter().all(|f| !f.contains("weft-tmp")), "{:?}", files_in(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_without_output_prints_summaries() {
    let dir = scratch_onnx("run-print");
    let module = write(&dir, "m.weft", NN_MODULE.as_bytes());
    let input = write(&dir, "x.npy", &npy_f32(&[3], &[0.0, 1.0, -1.0]));
    let o = weft(&["run", p(&module), "--input", &format!("arg0={}", p(&input))]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.starts_with("result0: shape 3 f32\n  min -0.632121 max 3.718282 mean 1.362054\n"), "{text}");
    assert!(text.contains("[1, 3.718282, -0.632121]"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_jit_is_the_default_and_points_at_the_interpreter_for_what_it_cannot_compile() {
    let dir = scratch_onnx("run-jit-default");
    let input = write(&dir, "x.npy", &npy_f32(&[2], &[-1.0, 2.0]));
    let arg = format!("arg0={}", p(&input));
    let onnx_op = "func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = \"onnx.Relu\"(%x) : (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}
";
    let dynamic = NN_MODULE.replace("[n]", "?");
    let cases = [
        (onnx_op, "'onnx.Relu' op: the JIT does not compile 'onnx.Relu' yet; use --engine interp"),
        (dynamic.as_str(), "has type tensor<?xf32> with a symbolic or dynamic dimension"),
    ];
    for (i, (text, message)) in cases.into_iter().enumerate() {
        let module = write(&dir, &format!("m{i}.weft"), text.as_bytes());
        let o = weft(&["run", p(&module), "--input", &arg]);
        assert_eq!(code(&o), 1, "{}", stdout(&o));
        assert!(stderr(&o).contains(message) && stderr(&o).contains("--engine interp"), "{}", stderr(&o));
        assert!(stdout(&o).is_empty());
        let o = weft(&["run", p(&module), "--input", &arg, "--engine", "interp"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    // Symbolic dims of a .weft module are bound by the inputs.
    let module = write(&dir, "bound.weft", NN_MODULE.as_bytes());
    let o = weft(&["run", p(&module), "--input", &arg, "--bench", "1"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("jit: compiled "), "{}", stdout(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_input_errors() {
    let dir = scratch_onnx("run-inputs");
    let module = write(&dir, "m.weft", NN_MODULE.as_bytes());
    let o = weft(&["run", p(&module)]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("missing inputs: arg0"), "{}", stderr(&o));
    assert!(stderr(&o).contains("@main takes: arg0: tensor<[n]xf32>"), "{}", stderr(&o));
    let good = write(&dir, "x.npy", &npy_f32(&[2], &[1.0, 2.0]));
    let o = weft(&["run", p(&module), "--input", &format!("nope={}", p(&good))]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--input names 'nope', which is not an input"), "{}", stderr(&o));
    let garbage = write(&dir, "bad.npy", b"\x93NUMPY garbage");
    let o = weft(&["run", p(&module), "--input", &format!("arg0={}", p(&garbage))]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("input 'arg0':") && stderr(&o).contains("bad.npy"), "{}", stderr(&o));
    let ints = write(&dir, "i.npy", &{
        let mut buf = Vec::new();
        let mut w = npyz::WriteOptions::<i64>::new().default_dtype().shape(&[2]).writer(&mut buf).begin_nd().unwrap();
        w.extend([1i64, 2]).unwrap();
        w.finish().unwrap();
        buf
    });
    let o = weft(&["run", p(&module), "--input", &format!("arg0={}", p(&ints))]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("has element type i64, but f32 is expected"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_never_leaves_a_partial_output_directory() {
    let dir = scratch_onnx("run-atomic");
    let module = write(&dir, "m.weft", NN_MODULE.as_bytes());
    let input = write(&dir, "x.npy", &npy_f32(&[1], &[0.0]));
    let blocker = write(&dir, "out", b"a file, not a directory");
    let o = weft(&["run", p(&module), "--input", &format!("arg0={}", p(&input)), "-o", p(&blocker)]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("exists and is not a directory"), "{}", stderr(&o));
    let nested = dir.join("missing/out");
    let o = weft(&["run", p(&module), "--input", &format!("arg0={}", p(&input)), "-o", p(&nested)]);
    assert_eq!(code(&o), 1);
    assert_eq!(files_in(&dir), ["m.weft", "out", "x.npy"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_reads_tensor_proto_inputs() {
    let dir = scratch_onnx("run-pb");
    let module = write(&dir, "m.weft", NN_MODULE.replace("[n]", "2x3").as_bytes());
    // The fixture holds a 2x3 FLOAT tensor named input_ids: 1..6.
    let pb = Path::new("frontend/tests/fixtures/onnx/input_0.pb");
    let out = dir.join("out");
    let o = weft(&["run", p(&module), "--input", &format!("arg0={}", p(pb)), "-o", p(&out)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (shape, y) = read_npy_f32(&out.join("result0.npy"));
    assert_eq!(shape, [2, 3]);
    for (got, v) in y.iter().zip(1..=6) {
        let v = v as f32;
        assert!((got - (v.exp() + v)).abs() <= 1e-6 * got.abs(), "{y:?}");
    }
    let truncated = write(&dir, "t.pb", &std::fs::read(pb).unwrap()[..20]);
    let o = weft(&["run", p(&module), "--input", &format!("arg0={}", p(&truncated))]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("t.pb"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn info_lists_shapes_ops_and_unsupported_ops() {
    let o = weft(&["info", "frontend/tests/fixtures/onnx/mlp.onnx"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("ir_version:  10"), "{text}");
    assert!(text.contains("opsets:      ai.onnx 17, com.microsoft 1"), "{text}");
    assert!(text.contains("  X: tensor<[batch]x4xf32>"), "{text}");
    assert!(text.contains("  Y: tensor<[batch]x8xf32>"), "{text}");
    assert!(text.contains("  Transpose"), "{text}");
    assert!(text.contains("unsupported ops: 2\n  LeakyRelu: "), "{text}");
    assert!(text.contains("  com.microsoft.Gelu: "), "{text}");
    let o = weft(&["info", "Cargo.toml"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("expected a .onnx, .onnxtxt or .weft file"), "{}", stderr(&o));
}

#[test]
fn run_time_errors_name_the_model_and_the_op() {
    let dir = scratch_onnx("run-errors");
    let model = write(
        &dir,
        "g.onnxtxt",
        b"<ir_version: 8, opset_import: [\"\" : 17]>\ng (float[4] x, int64[1] i) => (float[1] y) {\n   y = Gather <axis = 0> (x, i)\n}\n",
    );
    let x = write(&dir, "x.npy", &npy_f32(&[4], &[0.0, 1.0, 2.0, 3.0]));
    let mut buf = Vec::new();
    let mut w = npyz::WriteOptions::<i64>::new().default_dtype().shape(&[1]).writer(&mut buf).begin_nd().unwrap();
    w.extend([7i64]).unwrap();
    w.finish().unwrap();
    let i = write(&dir, "i.npy", &buf);
    let messages = [
        ("jit", "g.onnxtxt: 'nn.gather' op: an index is out of range for axis 0 of extent 4"),
        ("interp", "g.onnxtxt: 'onnx.Gather' op: index 7 is out of range"),
    ];
    for (engine, message) in messages {
        let (xs, is) = (format!("x={}", p(&x)), format!("i={}", p(&i)));
        let o = weft(&["run", p(&model), "--input", &xs, "--input", &is, "--engine", engine]);
        assert_eq!(code(&o), 1);
        let err = stderr(&o);
        assert!(err.contains(message), "{err}");
        assert!(err.contains("at loc(\"Gather_0\")"), "{err}");
        assert!(stdout(&o).is_empty());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
