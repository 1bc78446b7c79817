//! `weft report --nonlinear`: the JSON keys the issue fixes, usage errors,
//! and the measured-error table `share-nonlinear` checks budgets against,
//! compared with a fresh `weft accuracy --ops` measurement.

mod cli_util;

use cli_util::{code, stdout, weft};
use std::path::Path;
use weft_passes::transforms::share_nonlinear::errors::MEASURED;

fn model() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testsuite/models/vit_tiny_opset17.onnx").display().to_string()
}

fn report(extra: &[&str]) -> serde_json::Value {
    let m = model();
    let mut args = vec!["report", &m, "--quant", "w8a8", "--nonlinear", "--json", "--lanes", "4"];
    args.extend_from_slice(&["--input-shape", "pixel_values=1x3x32x32"]);
    args.extend_from_slice(extra);
    let o = weft(&args);
    assert_eq!(code(&o), 0, "{}", cli_util::stderr(&o));
    serde_json::from_str(&stdout(&o)).expect("JSON")
}

fn lut_ff(d: &serde_json::Value) -> u64 {
    d["lut"].as_u64().unwrap_or(0) + d["ff"].as_u64().unwrap_or(0)
}

#[test]
fn json_has_shared_and_unshared_resources() {
    let v = report(&[]);
    for design in ["shared", "unshared"] {
        let d = &v["nonlinear"][design];
        for key in ["lut", "ff", "dsp", "bram"] {
            assert!(d[key].as_f64().is_some_and(|x| x >= 0.0), "{design}.{key}: {d}");
        }
        assert!(d["lut"].as_u64().unwrap_or(0) > 0, "{design} has LUTs");
    }
    // A wXaY scheme quantizes the nonlinear inputs at Y bits, as QUARK does.
    assert_eq!(v["wide_acts"], 8, "{v}");
    let kinds = v["nonlinear"]["kinds"].as_array().expect("kinds");
    assert!(!kinds.is_empty() && kinds.iter().all(|k| k["bits"] == 8), "{v}");
    assert_eq!(v["nonlinear"]["shared"]["methods"]["softmax"], "quark", "{v}");
    // QUARK's setting is always reported: every kind quark or its
    // log-domain variant, and one shared unit is smaller than one unit per
    // kind with the same methods.
    let q = &v["nonlinear"]["quark_setting"];
    let methods = q["shared"]["methods"].as_object().expect("methods");
    assert_eq!(methods.len(), kinds.len(), "{q}");
    assert!(methods.values().all(|m| m == "quark" || m == "quark-log"), "{q}");
    assert!(lut_ff(&q["shared"]) < lut_ff(&q["unshared_same_methods"]), "{q}");
}

/// `kind -> (ii, passes, elements_per_cycle)` of a design's `throughput`.
fn rates(d: &serde_json::Value) -> std::collections::BTreeMap<String, (u64, u64, f64)> {
    let t = d["throughput"].as_object().expect("throughput");
    t.iter()
        .map(|(k, r)| {
            let n = |key: &str| r[key].as_u64().unwrap_or(0);
            (k.clone(), (n("ii"), n("passes"), r["elements_per_cycle"].as_f64().unwrap_or(f64::NAN)))
        })
        .collect()
}

#[test]
fn json_reports_each_kinds_rate_and_the_baselines_at_the_same_rate() {
    let v = report(&[]);
    // The default is full rate: every kind ii 1, 4 lanes / passes.
    let first = rates(&v["nonlinear"]["shared"]);
    assert_eq!(first["softmax"], (1, 3, 4.0 / 3.0), "{v}");
    assert_eq!(first["gelu"], (1, 1, 4.0), "{v}");
    assert!(v["nonlinear"]["unshared_full_rate"].is_null(), "{v}");
    // QUARK's setting with auto intervals: GELU (one pass) may take up to
    // the three cycles per element softmax and layer norm take anyway; in
    // the log domain (two exp2 and two log2 per element) two cycles fold
    // every unit onto one instance and are the smallest shared unit.
    let q = &v["nonlinear"]["quark_setting"];
    let tm = rates(&q["shared"]);
    assert_eq!(tm["gelu"], (2, 1, 2.0), "{q}");
    assert_eq!(tm["softmax"].0, 1, "{q}");
    assert_eq!(tm["layer-norm"].0, 1, "{q}");
    assert_eq!(q["shared"]["ii"]["gelu"], 2, "{q}");
    assert_eq!(q["shared"]["methods"]["gelu"], "quark-log", "{q}");
    // The same-methods baseline runs GELU at the same interval; the
    // full-rate baseline at 1, and it is larger.
    let units = q["unshared_same_methods"]["units"].as_array().expect("units");
    let gelu = units.iter().find(|u| u["methods"]["gelu"] == "quark-log").expect("a GELU unit");
    assert_eq!(gelu["ii"]["gelu"], 2, "{q}");
    let full = &q["unshared_full_rate"];
    assert!(
        full["units"]
            .as_array()
            .expect("units")
            .iter()
            .all(|u| u["ii"].as_object().is_some_and(|m| m.values().all(|x| x == 1))),
        "{q}"
    );
    assert!(lut_ff(full) > lut_ff(&q["unshared_same_methods"]), "{q}");
    // Time-multiplexing GELU makes the shared unit smaller than at full rate.
    let full_rate = &q["full_rate"];
    assert_eq!(rates(&full_rate["shared"])["gelu"].0, 1, "{q}");
    assert!(lut_ff(&q["shared"]) < lut_ff(&full_rate["shared"]), "{q}");
}

#[test]
fn ii_reaches_the_first_plan() {
    let v = report(&["--methods", "quark", "--ii", "gelu=2"]);
    assert_eq!(v["ii"], "gelu=2", "{v}");
    let r = rates(&v["nonlinear"]["shared"]);
    assert_eq!(r["gelu"], (2, 1, 2.0), "{v}");
    assert_eq!(r["softmax"].0, 1, "{v}");
    assert!(v["nonlinear"]["unshared_full_rate"]["lut"].as_u64().is_some(), "{v}");
    let o = weft(&["report", &model(), "--quant", "w8a8", "--nonlinear", "--ii", "gelu=0"]);
    assert_eq!(code(&o), 2);
    let o = weft(&["report", &model(), "--quant", "w8a8", "--nonlinear", "--ii", "attention=2"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn methods_and_wide_acts_reach_the_plan() {
    let v = report(&["--methods", "ibert", "--wide-acts", "12"]);
    assert_eq!(v["methods"], "ibert", "{v}");
    assert_eq!(v["wide_acts"], 12, "{v}");
    let kinds = v["nonlinear"]["kinds"].as_array().expect("kinds");
    assert!(kinds.iter().all(|k| k["bits"] == 12), "{v}");
    let methods = v["nonlinear"]["shared"]["methods"].as_object().expect("methods");
    assert!(!methods.is_empty() && methods.values().all(|m| m == "ibert"), "{v}");
}

#[test]
fn an_unknown_method_is_a_usage_error() {
    let o = weft(&["report", &model(), "--quant", "w8a8", "--nonlinear", "--methods", "cordic"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn nothing_to_report_is_a_usage_error() {
    let o = weft(&["report", &model(), "--quant", "w8a8"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn the_error_table_matches_a_fresh_measurement_at_8_bits() {
    let o = weft(&["accuracy", "--ops", "--bits", "8", "--json"]);
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    let rows = v["ops"].as_array().expect("ops");
    let mut checked = 0;
    for (kind, method, bits, max, _) in MEASURED.iter().filter(|r| r.2 == 8) {
        let row = rows.iter().find(|r| r["op"] == kind.option() && r["method"] == method.name() && r["bits"] == *bits);
        let got = row.and_then(|r| r["max_abs_error"].as_f64()).unwrap_or(f64::NAN);
        assert!(
            (got - max).abs() <= 1e-6 * max.max(1e-3),
            "{} {}: table {max}, measured {got}",
            kind.option(),
            method.name()
        );
        checked += 1;
    }
    assert!(checked >= 28, "{checked}");
}

#[test]
fn units_lists_instances_that_add_up_to_the_shared_unit() {
    let m = model();
    let args = ["report", &m, "--quant", "w8a8", "--nonlinear", "--lanes", "4", "--units"];
    let o = weft(&[&args[..], &["--input-shape", "pixel_values=1x3x32x32"]].concat());
    assert_eq!(code(&o), 0, "{}", cli_util::stderr(&o));
    let text = stdout(&o);
    let numbers = |line: &str| -> Vec<u64> { line.split_whitespace().filter_map(|w| w.parse().ok()).collect() };
    let mut lines = text.lines().skip_while(|l| !l.trim_start().starts_with("shared (one unit)"));
    let unit = numbers(lines.next().expect("the shared unit's row"));
    let instances: Vec<Vec<u64>> = lines
        .take_while(|l| !l.trim_start().starts_with("alone:"))
        .filter(|l| l.contains(" mux "))
        .map(|l| numbers(l.rsplit_once(" mux ").map_or(l, |(_, rest)| rest)))
        .collect();
    assert!(!instances.is_empty(), "{text}");
    // After "mux" come the operands' inputs, then LUT, FF, DSP (BRAM36 is
    // a float); at ii 1 the unit adds only its mode register (FFs).
    let column = |from_end: usize| -> u64 { instances.iter().map(|n| n[n.len() - from_end]).sum() };
    assert_eq!(column(3), unit[0], "LUT\n{text}");
    assert!(column(2) <= unit[1] && unit[1] - column(2) <= 2, "FF\n{text}");
    assert_eq!(column(1), unit[2], "DSP\n{text}");
}

#[test]
fn json_lists_each_units_instances() {
    let v = report(&[]);
    let shared = &v["nonlinear"]["shared"];
    let instances = shared["instances"].as_array().expect("instances");
    assert!(!instances.is_empty(), "{v}");
    let sum = |key: &str| -> u64 { instances.iter().map(|i| i[key].as_u64().unwrap_or(0)).sum() };
    // At ii 1 the unit is its instances plus a mode register (FFs only).
    assert_eq!(sum("lut"), shared["lut"].as_u64().unwrap_or(0), "{v}");
    assert_eq!(sum("dsp"), shared["dsp"].as_u64().unwrap_or(0), "{v}");
    assert!(instances
        .iter()
        .all(|i| i["mux_inputs"].as_array().is_some_and(|m| m.iter().all(|k| k.as_u64() >= Some(1)))));
    let units = v["nonlinear"]["unshared"]["units"].as_array().expect("units");
    assert!(units.iter().all(|u| u["instances"].as_array().is_some_and(|l| !l.is_empty())), "{v}");
}

#[test]
fn the_merge_bound_lies_between_the_largest_unit_and_the_shared_unit() {
    let v = report(&[]);
    let q = &v["nonlinear"]["quark_setting"];
    for design in [q, &q["full_rate"]] {
        let bound = design["merge_bound"].as_u64().expect("merge_bound");
        let units = design["unshared_same_methods"]["units"].as_array().expect("units");
        // Each unit's instances are among the merged members: the bound is
        // at least the largest unit's, and it merges at no mux cost, so no
        // plan of the same units (the shared unit) gets below it.
        let own =
            |u: &serde_json::Value| -> u64 { u["instances"].as_array().map_or(0, |l| l.iter().map(lut_ff).sum()) };
        assert!(units.iter().all(|u| bound >= own(u)), "{design}");
        assert!(bound < lut_ff(&design["unshared_same_methods"]), "{design}");
        assert!(bound <= lut_ff(&design["shared"]), "{design}");
    }
}

#[test]
fn json_escapes_the_model_path_as_json() {
    // Rust's Debug escape of U+200B is `\u{200b}`, which is not JSON.
    let dir = cli_util::scratch("report_json_path");
    let path = dir.join("vit \"tiny\"\u{200b}.onnx");
    std::fs::copy(model(), &path).expect("copy the model");
    let p = cli_util::path_str(&path);
    let args = ["report", p, "--quant", "w8a8", "--nonlinear", "--json", "--lanes", "4"];
    let o = weft(&[&args[..], &["--input-shape", "pixel_values=1x3x32x32"]].concat());
    assert_eq!(code(&o), 0, "{}", cli_util::stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    assert_eq!(v["model"], p, "{v}");
}

#[test]
fn the_json_is_byte_identical_across_runs() {
    let m = model();
    let args = ["report", &m, "--quant", "w8a8", "--nonlinear", "--json", "--lanes", "4"];
    let run = || weft(&[&args[..], &["--input-shape", "pixel_values=1x3x32x32"]].concat()).stdout;
    let first = run();
    assert!(!first.is_empty());
    assert_eq!(first, run());
}
