//! `weft run --profile`: wall time per op kind (`onnx.MatMul`, `nn.add`,
//! ...) in the engine that runs the model, sorted by time; one table
//! format for both engines.
//!
//! The JIT times each kernel it calls (one per op that computes or moves
//! data; a reshape has none) through its kernel hook: an op's time is its
//! kernel's, and "outside ops" is the rest of a run (checking and copying
//! the inputs into the arena, copying the results out).
//!
//! The interpreter calls [`RunOptions::on_op`] after each op, so an op's
//! time is the time since the previous callback returned (or since the run
//! started, for the first op): it covers taking the operands (a copy when
//! the value is used again later), `eval`, checking the results against
//! their types, and storing the previous op's results. The run's set-up
//! (counting uses, checking the inputs) is thus part of the first op; what
//! follows the last op (the `return` and the outputs' checks) is reported
//! as "outside ops". The callback's own bookkeeping is not counted.
//!
//! Invariants: with `--bench N`, the warm-up run is not profiled and the
//! times are the mean over the N timed runs; an op count is per run.

use super::bench::{bench_runs, ms, report as bench_report};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use weft_backends::jit::CompiledFunction;
use weft_ir::interp::{run_function, run_function_with, OpEvent, RunOptions};
use weft_ir::{Diagnostic, Function, Module, Tensor};

/// The engine a profile times, with what it runs.
#[derive(Clone, Copy)]
pub enum Profiled<'a> {
    Interp { module: &'a Module, func: &'a Function },
    Jit(&'a CompiledFunction),
}

impl Profiled<'_> {
    /// The engine's name in the report's header.
    fn label(self) -> &'static str {
        match self {
            Profiled::Interp { .. } => "interpreter",
            Profiled::Jit(_) => "jit",
        }
    }

    /// A run without timing (the warm-up).
    fn run(self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, Diagnostic> {
        match self {
            Profiled::Interp { module, func } => run_function(module, func, inputs),
            Profiled::Jit(code) => code.run(inputs),
        }
    }
}

/// The time and number of ops of one op kind, summed over the runs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct KindTime {
    time: Duration,
    ops: u64,
}

/// Op times by kind, summed over the profiled runs.
#[derive(Debug)]
pub struct Profile {
    /// The engine's name, for the header.
    engine: &'static str,
    kinds: HashMap<&'static str, KindTime>,
    /// The wall time of the profiled runs, outside ops included.
    total: Duration,
    runs: u32,
}

impl Profile {
    /// An empty profile of the engine named `engine`.
    pub fn new(engine: &'static str) -> Profile {
        Profile { engine, kinds: HashMap::new(), total: Duration::ZERO, runs: 0 }
    }

    /// Runs the model once in `engine`, adding each op's time to its kind.
    pub fn run(&mut self, engine: Profiled, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, Diagnostic> {
        match engine {
            Profiled::Interp { module, func } => self.run_interp(module, func, inputs),
            Profiled::Jit(code) => self.run_jit(code, inputs),
        }
    }

    /// One JIT run: each kernel's time goes to its op's kind.
    fn run_jit(&mut self, code: &CompiledFunction, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, Diagnostic> {
        let kinds = &mut self.kinds;
        let start = Instant::now();
        let mut on_kernel = |name: &'static str, took: Duration| {
            let kind = kinds.entry(name).or_default();
            kind.time += took;
            kind.ops += 1;
        };
        let outputs = code.run_with(inputs, Some(&mut on_kernel))?;
        self.total += start.elapsed();
        self.runs += 1;
        Ok(outputs)
    }

    /// One interpreter run (see the module doc for what an op's time is).
    fn run_interp(&mut self, module: &Module, func: &Function, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, Diagnostic> {
        let kinds = &mut self.kinds;
        let start = Instant::now();
        let mut last = start;
        let mut on_op = |event: &OpEvent| {
            let took = last.elapsed();
            let kind = kinds.entry(event.data.name()).or_default();
            kind.time += took;
            kind.ops += 1;
            last = Instant::now();
        };
        let outputs = run_function_with(module, func, inputs, RunOptions { on_op: Some(&mut on_op) })?;
        self.total += start.elapsed();
        self.runs += 1;
        Ok(outputs)
    }

    /// Adds the time of one op of `kind` (for tests).
    #[cfg(test)]
    fn add(&mut self, kind: &'static str, time: Duration) {
        let k = self.kinds.entry(kind).or_default();
        k.time += time;
        k.ops += 1;
    }

    /// The table, per run: one row per op kind, slowest first.
    ///
    /// ```text
    /// profile (interpreter, mean of 3 runs): 270.512 ms per run, 1234 ops
    /// (`jit` for the JIT)
    ///   onnx.MatMul   123.400 ms   45.6%  (24 ops)
    ///   ...
    ///   (outside ops)   0.021 ms    0.0%
    /// ```
    pub fn report(&self) -> String {
        let runs = self.runs.max(1);
        let mut rows: Vec<(&str, KindTime)> = self.kinds.iter().map(|(&k, &t)| (k, t)).collect();
        rows.sort_by(|a, b| b.1.time.cmp(&a.1.time).then(a.0.cmp(b.0)));
        let in_ops: Duration = rows.iter().map(|r| r.1.time).sum();
        let ops: u64 = rows.iter().map(|r| r.1.ops).sum();
        let total = self.total.max(in_ops);
        let outside = total.saturating_sub(in_ops);
        let label = "(outside ops)";
        let width = rows.iter().map(|r| r.0.len()).chain([label.len()]).max().unwrap_or(0);
        let time_width = ms(total / runs).len();
        let line = |name: &str, time: Duration| {
            let share = if total.is_zero() { 0.0 } else { 100.0 * time.as_secs_f64() / total.as_secs_f64() };
            format!("  {name:<width$}  {:>time_width$} ms  {share:>5.1}%", ms(time / runs))
        };
        let mut out = String::new();
        let mean = if self.runs > 1 { format!(", mean of {} runs", self.runs) } else { String::new() };
        let _ = writeln!(
            out,
            "profile ({}{mean}): {} ms per run, {} ops",
            self.engine,
            ms(total / runs),
            ops / u64::from(runs)
        );
        for (name, t) in rows {
            let n = t.ops / u64::from(runs);
            let _ = writeln!(out, "{}  ({n} {})", line(name, t.time), if n == 1 { "op" } else { "ops" });
        }
        let _ = writeln!(out, "{}", line(label, outside));
        out
    }
}

/// Runs the model in `engine` with `--profile` (and `--bench N` if
/// given): the first run's outputs and the report to print after them.
pub fn profiled_run(
    bench: Option<u32>,
    engine: Profiled,
    inputs: &[Tensor],
) -> Result<(Vec<Tensor>, String), Diagnostic> {
    let mut profile = Profile::new(engine.label());
    let Some(n) = bench else {
        let outputs = profile.run(engine, inputs.to_vec())?;
        return Ok((outputs, profile.report()));
    };
    let mut warm = true;
    let (outputs, stats) = bench_runs(n, || {
        if std::mem::take(&mut warm) {
            return engine.run(inputs.to_vec());
        }
        profile.run(engine, inputs.to_vec())
    })?;
    let mut text = stats.map(|s| bench_report(&s)).unwrap_or_default();
    text.push_str(&profile.report());
    Ok((outputs, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_sorted_by_time_with_shares_and_counts() {
        let mut p = Profile::new("interpreter");
        p.add("nn.add", Duration::from_millis(10));
        p.add("nn.matmul", Duration::from_millis(30));
        p.add("nn.matmul", Duration::from_millis(50));
        p.total = Duration::from_millis(100);
        p.runs = 1;
        let text = p.report();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "profile (interpreter): 100.000 ms per run, 3 ops",
                "  nn.matmul       80.000 ms   80.0%  (2 ops)",
                "  nn.add          10.000 ms   10.0%  (1 op)",
                "  (outside ops)   10.000 ms   10.0%",
            ]
        );
    }

    #[test]
    fn several_runs_report_means_per_run() {
        let mut p = Profile::new("interpreter");
        for _ in 0..2 {
            p.add("nn.exp", Duration::from_millis(4));
            p.add("nn.exp", Duration::from_millis(2));
        }
        p.total = Duration::from_millis(12);
        p.runs = 2;
        let text = p.report();
        assert!(text.starts_with("profile (interpreter, mean of 2 runs): 6.000 ms per run, 2 ops\n"), "{text}");
        assert!(text.contains("  nn.exp         6.000 ms  100.0%  (2 ops)\n"), "{text}");
        assert!(text.contains("  (outside ops)  0.000 ms    0.0%\n"), "{text}");
    }

    #[test]
    fn an_empty_profile_reports_zero_without_dividing_by_zero() {
        let text = Profile::new("interpreter").report();
        assert_eq!(text, "profile (interpreter): 0.000 ms per run, 0 ops\n  (outside ops)  0.000 ms    0.0%\n");
        assert!(Profile::new("jit").report().starts_with("profile (jit): 0.000 ms per run, 0 ops\n"));
    }
}
