//! `weft run --bench N`: runs a model once as a warm-up, then N timed
//! times, and reports the median, min and max wall time of one run (after
//! the JIT's compile time, [`jit_report`], when the JIT runs it).
//!
//! Engine-neutral: [`timed_run`] times any closure that runs the model and
//! returns its outputs, so every engine is measured the same way (the
//! closure does everything a run does, including copying the inputs it
//! consumes).
//!
//! Invariants: the outputs returned are those of the first run (the
//! warm-up), so what is checked, printed or written is what a plain
//! `weft run` gives; a failing run stops the benchmark with its
//! diagnostic; without `--bench` the model runs exactly once and nothing is
//! reported.

use std::fmt::Write as _;
use std::time::{Duration, Instant};
use weft_backends::jit::JitStats;
use weft_ir::{Diagnostic, Tensor};

/// The wall times of the timed runs.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchStats {
    pub warmup: Duration,
    pub runs: usize,
    pub median: Duration,
    pub min: Duration,
    pub max: Duration,
}

/// Runs `run` once, then `bench` more times if given; the first run's
/// outputs and the report to print after them (empty without `bench`).
pub fn timed_run<F>(bench: Option<u32>, mut run: F) -> Result<(Vec<Tensor>, String), Diagnostic>
where
    F: FnMut() -> Result<Vec<Tensor>, Diagnostic>,
{
    let Some(n) = bench else {
        return Ok((run()?, String::new()));
    };
    let (outputs, stats) = bench_runs(n, run)?;
    Ok((outputs, stats.map(|s| report(&s)).unwrap_or_default()))
}

/// A warm-up run, then `n` timed runs: the warm-up's outputs and the
/// statistics (none when `n` is 0).
pub fn bench_runs<F>(n: u32, mut run: F) -> Result<(Vec<Tensor>, Option<BenchStats>), Diagnostic>
where
    F: FnMut() -> Result<Vec<Tensor>, Diagnostic>,
{
    let start = Instant::now();
    let outputs = run()?;
    let warmup = start.elapsed();
    let mut times = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let start = Instant::now();
        let result = run()?;
        times.push(start.elapsed());
        drop(result);
    }
    Ok((outputs, stats(warmup, times)))
}

/// Median, min and max of `times` (the median of an even count is the mean
/// of the two middle times); none when `times` is empty.
fn stats(warmup: Duration, mut times: Vec<Duration>) -> Option<BenchStats> {
    times.sort_unstable();
    let (&min, &max) = (times.first()?, times.last()?);
    let mid = times.len() / 2;
    let upper = *times.get(mid)?;
    let median = if times.len() % 2 == 1 { upper } else { (*times.get(mid.checked_sub(1)?)? + upper) / 2 };
    Some(BenchStats { warmup, runs: times.len(), median, min, max })
}

/// ```text
/// bench: 10 runs after a warm-up run of 12.512 ms
/// median: 12.345 ms
/// min: 12.001 ms  max: 13.100 ms
/// ```
pub fn report(s: &BenchStats) -> String {
    let mut out = String::new();
    let runs = if s.runs == 1 { "1 run".to_string() } else { format!("{} runs", s.runs) };
    let _ = writeln!(out, "bench: {runs} after a warm-up run of {} ms", ms(s.warmup));
    let _ = writeln!(out, "median: {} ms", ms(s.median));
    let _ = writeln!(out, "min: {} ms  max: {} ms", ms(s.min), ms(s.max));
    out
}

/// What compiling the model for the JIT took and produced:
///
/// ```text
/// jit: compiled 123 kernels in 45.678 ms, peak arena 12.3 MB
/// ```
pub fn jit_report(stats: &JitStats) -> String {
    let (kernels, time) = (stats.kernels, ms(stats.compile_time));
    let (peak, fused) = (bytes(stats.peak_bytes), stats.fused_ops);
    format!("jit: compiled {kernels} kernels in {time} ms, peak arena {peak}, {fused} ops fused into their consumers\n")
}

/// A byte count for people: bytes, kB or MB (decimal).
fn bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} bytes"),
        // Below 999.95 kB, which would print as 1000.0 kB.
        1_000..999_950 => format!("{:.1} kB", n as f64 / 1e3),
        _ => format!("{:.1} MB", n as f64 / 1e6),
    }
}

/// Milliseconds with three decimals (microsecond resolution).
pub fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_ir::{ElemType, TensorData};

    fn scalar(v: f32) -> Tensor {
        Tensor { elem: ElemType::F32, shape: vec![], data: TensorData::F32(vec![v]) }
    }

    fn millis(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn median_min_max_of_odd_and_even_counts() {
        let s = stats(Duration::ZERO, millis(&[30, 10, 20])).unwrap();
        assert_eq!((s.runs, s.median, s.min, s.max), (3, millis(&[20])[0], millis(&[10])[0], millis(&[30])[0]));
        let s = stats(Duration::ZERO, millis(&[40, 10, 20, 30])).unwrap();
        assert_eq!(s.median, Duration::from_millis(25));
        assert_eq!(stats(Duration::ZERO, Vec::new()), None);
    }

    #[test]
    fn runs_once_more_than_asked_and_returns_the_first_outputs() {
        let mut calls = 0;
        let (outputs, stats) = bench_runs(3, || {
            calls += 1;
            Ok(vec![scalar(calls as f32)])
        })
        .unwrap();
        assert_eq!(calls, 4);
        assert_eq!(outputs, vec![scalar(1.0)]);
        assert_eq!(stats.map(|s| s.runs), Some(3));
    }

    #[test]
    fn without_bench_runs_once_and_reports_nothing() {
        let mut calls = 0;
        let (outputs, text) = timed_run(None, || {
            calls += 1;
            Ok(vec![scalar(7.0)])
        })
        .unwrap();
        assert_eq!((calls, outputs, text), (1, vec![scalar(7.0)], String::new()));
    }

    #[test]
    fn a_failing_run_stops_the_benchmark() {
        let mut calls = 0;
        let result = timed_run(Some(5), || {
            calls += 1;
            if calls == 2 {
                Err(Diagnostic::error("boom", weft_ir::Span::NONE))
            } else {
                Ok(Vec::new())
            }
        });
        assert_eq!(result.map_err(|d| d.message).unwrap_err(), "boom");
        assert_eq!(calls, 2);
    }

    #[test]
    fn jit_report_format() {
        let s = JitStats {
            compile_time: Duration::from_micros(45_678),
            kernels: 123,
            peak_bytes: 12_345_678,
            constant_bytes: 0,
            vector_maps: 7,
            fused_ops: 9,
        };
        let want = "jit: compiled 123 kernels in 45.678 ms, peak arena 12.3 MB, 9 ops fused into their consumers\n";
        assert_eq!(jit_report(&s), want);
        assert_eq!((bytes(64), bytes(1_536), bytes(999_999)), ("64 bytes".into(), "1.5 kB".into(), "1.0 MB".into()));
    }

    #[test]
    fn report_format() {
        let s = BenchStats {
            warmup: Duration::from_micros(12_512),
            runs: 10,
            median: Duration::from_micros(12_345),
            min: Duration::from_micros(12_001),
            max: Duration::from_micros(13_100),
        };
        assert_eq!(
            report(&s),
            "bench: 10 runs after a warm-up run of 12.512 ms\nmedian: 12.345 ms\nmin: 12.001 ms  max: 13.100 ms\n"
        );
    }
}
