//! The design space and the extraction under a budget.

use super::rules::Candidates;
use super::search::{search, space, Budget, Problem, TileLimits};
use weft_ir::hwcost::engines::{default_units, Precision};
use weft_ir::hwcost::latency::{Layer, LayerKind, NlKind, Platform, Workload};
use weft_ir::hwcost::Resources;

fn deit_like_block() -> Workload {
    let l = |kind| Layer { name: "l".into(), kind };
    Workload {
        layers: vec![
            l(LayerKind::Fc { batch: 1, m: 197, k: 768, n: 2304 }),
            l(LayerKind::Attn { batch: 12, m: 197, k: 64, n: 197 }),
            l(LayerKind::Nonlinear { kind: NlKind::Softmax, rows: 12 * 197, len: 197 }),
            l(LayerKind::Attn { batch: 12, m: 197, k: 197, n: 64 }),
            l(LayerKind::Fc { batch: 1, m: 197, k: 768, n: 3072 }),
            l(LayerKind::Nonlinear { kind: NlKind::Gelu, rows: 197, len: 3072 }),
            l(LayerKind::Fc { batch: 1, m: 197, k: 3072, n: 768 }),
        ],
    }
}

fn problem(w: &Workload, cap: f64) -> Problem<'_> {
    Problem {
        workload: w,
        precision: Precision { weight_bits: 1, act_bits: 8 },
        platform: Platform { clock_mhz: 300.0, memory_gbps: 19.2 },
        budget: Budget { capacity: Resources::new(274_080, 548_160, 2_520, 1_824), cap },
        units: default_units(8),
    }
}

#[test]
fn candidates_are_powers_of_two_and_divisors() {
    assert_eq!(Candidates::tiling(16, 12).0, vec![1, 2, 3, 4, 6, 8, 12, 16]);
    assert_eq!(Candidates::tiling(8, 1).0, vec![1, 2, 4, 8]);
    assert_eq!(Candidates::tiling(8, 12).next(8), None);
}

#[test]
fn the_space_is_saturated_and_every_combination_is_present() {
    let w = deit_like_block();
    let s = space(&w);
    let out = search(&problem(&w, 0.8), TileLimits::default());
    assert!(out.stats.saturated, "{:?}", out.stats);
    let fc = s.fc_in.0.len() * s.fc_out.0.len() * s.fc_rows.0.len();
    assert!(out.stats.nodes > fc, "{} nodes for {fc} FC designs", out.stats.nodes);
    assert!(out.stats.designs > 0);
}

#[test]
fn the_choice_fits_the_cap_and_a_larger_cap_is_never_slower() {
    let w = deit_like_block();
    let tight = search(&problem(&w, 0.3), TileLimits::default()).best.expect("a design at 30%");
    let loose = search(&problem(&w, 0.8), TileLimits::default()).best.expect("a design at 80%");
    let limit = Budget { capacity: Resources::new(274_080, 548_160, 2_520, 1_824), cap: 0.3 }.limit();
    let used = tight.resources.total();
    assert!(used.lut <= limit.lut && used.ff <= limit.ff && used.dsp <= limit.dsp && used.bram18 <= limit.bram18);
    assert!(loose.fps >= tight.fps, "{} < {}", loose.fps, tight.fps);
    // Binary weights: the FC engine has no DSP.
    assert_eq!(loose.resources.fc.dsp, 0);
}

#[test]
fn a_tiny_budget_has_no_design() {
    let w = deit_like_block();
    let mut p = problem(&w, 0.8);
    p.budget.capacity = Resources::new(1_000, 1_000, 1, 1);
    assert!(search(&p, TileLimits::default()).best.is_none());
}

#[test]
fn search_is_deterministic() {
    let w = deit_like_block();
    let a = search(&problem(&w, 0.8), TileLimits::default());
    let b = search(&problem(&w, 0.8), TileLimits::default());
    assert_eq!(a.best, b.best);
    assert_eq!((a.stats.nodes, a.stats.designs), (b.stats.nodes, b.stats.designs));
}
