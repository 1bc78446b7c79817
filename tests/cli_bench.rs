//! Integration tests of `weft run --bench N` and `weft run --profile` with
//! both engines: the report's format (for the JIT, after the line saying
//! what compiling took), that the outputs are those of a plain run, and
//! usage errors. Timing values are only checked for consistency (min <=
//! median <= max, shares summing to about 100%), never for size.

use npyz::WriterBuilder;
use std::path::PathBuf;
use std::process::{Command, Output};

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

/// An nn module: y = exp(x) + x.
const NN_MODULE: &str = "func @main(%x: tensor<[n]xf32>) -> tensor<[n]xf32> {
  %0 = nn.exp %x : tensor<[n]xf32>
  %1 = nn.add %0, %x : tensor<[n]xf32>
  return %1 : tensor<[n]xf32>
}
";

/// The summary `weft run` prints for NN_MODULE on [0, 1, -1].
const NN_SUMMARY: &str =
    "result0: shape 3 f32\n  min -0.632121 max 3.718282 mean 1.362054\n  [1, 3.718282, -0.632121]\n";

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("weft-cli-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// NN_MODULE and its input: `[module, "--input", "arg0=FILE"]`.
    fn nn_run(&self) -> Vec<String> {
        let module = self.write("m.weft", NN_MODULE.as_bytes());
        let input = self.write("x.npy", &npy_f32(&[3], &[0.0, 1.0, -1.0]));
        vec![module, "--input".into(), format!("arg0={input}")]
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn weft(args: &[String], extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft")).arg("run").args(args).args(extra).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn npy_f32(shape: &[u64], values: &[f32]) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = npyz::WriteOptions::<f32>::new().default_dtype().shape(shape).writer(&mut buf).begin_nd().unwrap();
    w.extend(values.iter().copied()).unwrap();
    w.finish().unwrap();
    buf
}

/// `X ms` at the start of `s`: X, which must have three decimals.
fn millis(s: &str) -> f64 {
    let (number, rest) = s.split_once(' ').unwrap_or_else(|| panic!("no time in {s:?}"));
    assert!(rest.starts_with("ms"), "{s:?}");
    assert_eq!(number.split_once('.').map(|(_, d)| d.len()), Some(3), "{s:?}");
    number.parse().unwrap()
}

/// The engines, as `--engine` flags.
const ENGINES: [&str; 2] = ["--engine=jit", "--engine=interp"];

/// Checks `jit: compiled N kernels in X ms, peak arena ..., F ops fused
/// into their consumers`; N.
fn check_jit_line(line: &str) -> u64 {
    let rest = line.strip_prefix("jit: compiled ").unwrap_or_else(|| panic!("no jit line: {line:?}"));
    let (kernels, rest) = rest.split_once(" kernels in ").expect(line);
    let (time, rest) = rest.split_once(", peak arena ").expect(line);
    let (arena, fused) = rest.split_once(", ").expect(line);
    millis(time);
    assert!(arena.ends_with(" bytes") || arena.ends_with(" kB") || arena.ends_with(" MB"), "{line}");
    let fused = fused.strip_suffix(" ops fused into their consumers").expect(line);
    fused.parse::<u64>().expect(line);
    kernels.parse().expect(line)
}

/// The report lines after the JIT's compile line (checked), or all of
/// them for the interpreter.
fn after_jit_line<'a>(engine: &str, lines: &'a [&'a str]) -> &'a [&'a str] {
    if engine != "--engine=jit" {
        return lines;
    }
    let (first, rest) = lines.split_first().expect("a jit line");
    check_jit_line(first);
    rest
}

/// Checks the three bench lines of `text` (after `after`, the outputs'
/// summaries) for `runs` runs; the median.
fn check_bench_lines(lines: &[&str], runs: u32) -> f64 {
    let [first, median, min_max] = lines else { panic!("expected 3 bench lines, got {lines:?}") };
    let warm = first.strip_prefix(&format!("bench: {runs} runs after a warm-up run of ")).expect(first);
    millis(warm);
    let median = millis(median.strip_prefix("median: ").expect(median));
    let (min, max) = min_max.strip_prefix("min: ").and_then(|s| s.split_once("  max: ")).expect(min_max);
    let (min, max) = (millis(min), millis(max));
    assert!(min <= median && median <= max, "{lines:?}");
    median
}

/// The profile rows of `lines` (after the header): (kind, ms, share, ops).
fn profile_rows(lines: &[&str]) -> Vec<(String, f64, f64, Option<u64>)> {
    lines
        .iter()
        .map(|line| {
            let line = line.strip_prefix("  ").expect(line);
            let (kind, rest) = if let Some(rest) = line.strip_prefix("(outside ops)") {
                ("(outside ops)", rest)
            } else {
                line.split_once(' ').expect(line)
            };
            let rest = rest.trim_start();
            let time = millis(rest);
            let (share, ops) = rest.split_once("ms").unwrap().1.trim().split_once('%').expect(line);
            let ops = ops.trim();
            let count = (!ops.is_empty()).then(|| {
                let n = ops.strip_prefix('(').and_then(|s| s.split_once(' ')).expect(line);
                assert!(n.1 == "ops)" || n.1 == "op)", "{line}");
                n.0.parse().unwrap()
            });
            (kind.to_string(), time, share.trim().parse().unwrap(), count)
        })
        .collect()
}

#[test]
fn bench_prints_median_min_max_after_the_usual_summaries() {
    let dir = Scratch::new("bench");
    for engine in ENGINES {
        let o = weft(&dir.nn_run(), &["--bench", "3", engine]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let text = stdout(&o);
        let rest = text.strip_prefix(NN_SUMMARY).unwrap_or_else(|| panic!("{text}"));
        let lines: Vec<&str> = rest.lines().collect();
        check_bench_lines(after_jit_line(engine, &lines), 3);
    }
    // The JIT is the default engine.
    let o = weft(&dir.nn_run(), &["--bench", "1"]);
    assert!(stdout(&o).contains("\njit: compiled "), "{}", stdout(&o));
}

#[test]
fn bench_writes_the_outputs_of_the_first_run() {
    let dir = Scratch::new("bench-out");
    let model = dir.write("silu.onnxtxt", SILU.as_bytes());
    let input = dir.write("x.npy", &npy_f32(&[1, 3], &[-1.0, 0.0, 2.0]));
    let out = dir.0.join("out");
    let args = vec![model, "--input".into(), format!("x={input}"), "-o".into(), out.to_str().unwrap().into()];
    let o = weft(&args, &["--bench", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    check_bench_lines(after_jit_line("--engine=jit", &text.lines().collect::<Vec<_>>()), 2);
    let bytes = std::fs::read(out.join("plus.npy")).unwrap();
    let plus = npyz::NpyFile::new(&bytes[..]).unwrap().into_vec::<f32>().unwrap();
    assert_eq!(plus, [0.0, 1.0, 3.0]);
}

#[test]
fn bench_needs_a_positive_count() {
    let dir = Scratch::new("bench-zero");
    for bad in ["--bench=0", "--bench=-1", "--bench=many"] {
        let o = weft(&dir.nn_run(), &[bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
        assert!(stderr(&o).contains("--bench"), "{}", stderr(&o));
        assert!(stdout(&o).is_empty());
    }
}

#[test]
fn bench_stops_at_a_failing_run() {
    let dir = Scratch::new("bench-fail");
    let model = dir.write(
        "g.onnxtxt",
        b"<ir_version: 8, opset_import: [\"\" : 17]>\ng (float[4] x, int64[1] i) => (float[1] y) {\n   y = Gather <axis = 0> (x, i)\n}\n",
    );
    let x = dir.write("x.npy", &npy_f32(&[4], &[0.0, 1.0, 2.0, 3.0]));
    let mut buf = Vec::new();
    let mut w = npyz::WriteOptions::<i64>::new().default_dtype().shape(&[1]).writer(&mut buf).begin_nd().unwrap();
    w.extend([7i64]).unwrap();
    w.finish().unwrap();
    let i = dir.write("i.npy", &buf);
    let args = vec![model, "--input".into(), format!("x={x}"), "--input".into(), format!("i={i}")];
    let messages = [
        "g.onnxtxt: 'nn.gather' op: an index is out of range for axis 0 of extent 4",
        "g.onnxtxt: 'onnx.Gather' op: index 7 is out of range",
    ];
    for (engine, message) in ENGINES.into_iter().zip(messages) {
        for extra in [&["--bench", "2"][..], &["--profile"], &["--profile", "--bench", "2"]] {
            let o = weft(&args, &[extra, &[engine]].concat());
            assert_eq!(o.status.code(), Some(1), "{extra:?}");
            assert!(stderr(&o).contains(message), "{}", stderr(&o));
            assert!(stderr(&o).contains("at loc(\"Gather_0\")"), "{}", stderr(&o));
            assert!(stdout(&o).is_empty(), "{extra:?}: {}", stdout(&o));
        }
    }
}

/// Checks a profile table (header and rows) of `runs` runs whose op kinds
/// are among `kinds`; the kinds in the table, slowest first.
fn check_profile(engine: &str, lines: &[&str], runs: u32, kinds: &[&str]) -> Vec<String> {
    let (header, rows) = lines.split_first().expect("a profile header");
    let label = if engine == "--engine=jit" { "jit" } else { "interpreter" };
    let mean = if runs > 1 { format!(", mean of {runs} runs") } else { String::new() };
    let total = header.strip_prefix(&format!("profile ({label}{mean}): ")).expect(header);
    let (_, ops) = total.split_once(" ms per run, ").expect(header);
    let ops: u64 = ops.strip_suffix(" ops").expect(header).parse().expect(header);
    let rows = profile_rows(rows);
    let (outside, rows) = rows.split_last().expect("an (outside ops) row");
    assert_eq!((outside.0.as_str(), outside.3), ("(outside ops)", None), "{lines:?}");
    assert!(!rows.is_empty() && rows.iter().all(|r| kinds.contains(&r.0.as_str())), "{lines:?}");
    assert!(rows.windows(2).all(|w| w[0].1 >= w[1].1), "{lines:?}");
    assert_eq!(rows.iter().map(|r| r.3.unwrap_or(0)).sum::<u64>(), ops, "{lines:?}");
    let shares: f64 = rows.iter().chain([outside]).map(|r| r.2).sum();
    assert!((shares - 100.0).abs() < 0.5, "{lines:?}");
    rows.iter().map(|r| r.0.clone()).collect()
}

#[test]
fn profile_lists_each_op_kind_slowest_first() {
    let dir = Scratch::new("profile");
    for engine in ENGINES {
        let o = weft(&dir.nn_run(), &["--profile", engine]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let text = stdout(&o);
        let rest = text.strip_prefix(NN_SUMMARY).unwrap_or_else(|| panic!("{text}"));
        let lines: Vec<&str> = rest.lines().collect();
        let mut kinds = check_profile(engine, after_jit_line(engine, &lines), 1, &["nn.exp", "nn.add"]);
        kinds.sort();
        if engine == "--engine=interp" {
            assert_eq!(kinds, ["nn.add", "nn.exp"], "{text}");
        }
    }
}

#[test]
fn profile_with_bench_reports_means_over_the_timed_runs() {
    let dir = Scratch::new("profile-bench");
    let model = dir.write("silu.onnxtxt", SILU.as_bytes());
    let input = dir.write("x.npy", &npy_f32(&[2, 3], &[-1.0, 0.0, 2.0, 0.5, 3.0, -4.0]));
    let out = dir.0.join("out");
    let args = vec![model, "--input".into(), format!("x={input}"), "-o".into(), out.to_str().unwrap().into()];
    let interp_kinds = ["onnx.Sigmoid", "onnx.Mul", "onnx.Add", "builtin.constant"];
    // onnx-to-nn fuses x * Sigmoid(x) into nn.silu.
    let kinds: [&[&str]; 2] = [&["nn.silu", "nn.add"], &interp_kinds];
    for (engine, kinds) in ENGINES.into_iter().zip(kinds) {
        let o = weft(&args, &["--profile", "--bench", "4", engine]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let text = stdout(&o);
        let lines: Vec<&str> = text.lines().collect();
        let lines = after_jit_line(engine, &lines);
        check_bench_lines(&lines[..3], 4);
        let found = check_profile(engine, &lines[3..], 4, kinds);
        if engine == "--engine=interp" {
            assert!(interp_kinds[..3].iter().all(|k| found.iter().any(|f| f == k)), "{text}");
        }
        assert!(out.join("y.npy").is_file());
    }
}
