//! `weft explore` (the VAQF search over activation bits) and `weft compile
//! --fps --weights` (the search picks the bits, the project carries the
//! reports): JSON keys, the highest bits meeting a target, unreachable
//! targets, and no output directory on failure.

mod cli_util;

use cli_util::{code, path_str, scratch, stderr, stdout, weft};
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn vit() -> PathBuf {
    root().join("testsuite/models/vit_tiny_opset17.onnx")
}

fn explore_json(fps: &str) -> serde_json::Value {
    let m = vit();
    let o = weft(&[
        "explore",
        path_str(&m),
        "--fps",
        fps,
        "--weights",
        "1",
        "--input-shape",
        "pixel_values=1x3x32x32",
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).expect("explore --json prints JSON")
}

#[test]
fn explore_picks_the_highest_bits_that_meet_each_target() {
    let v = explore_json("30,100000000");
    let list = v.as_array().expect("a list, one object per target");
    assert_eq!(list.len(), 2);
    let met = &list[0];
    assert_eq!(met["target_fps"], 30.0);
    let bits = met["act_bits"].as_u64().expect("30 FPS is reachable on a tiny ViT");
    assert!((4..=16).contains(&bits));
    assert!(met["fps"].as_f64().unwrap() >= 30.0);
    for key in ["lut", "ff", "dsp", "bram", "uram"] {
        assert!(met["resources"][key].is_number(), "resources.{key}");
    }
    // Every bits value tried above the chosen one missed the target.
    for t in met["tried"].as_array().unwrap() {
        let b = t["act_bits"].as_u64().unwrap();
        assert_eq!(t["meets"].as_bool().unwrap(), b <= bits, "{t}");
    }
    let unreachable = &list[1];
    assert!(unreachable["act_bits"].is_null(), "{unreachable}");
}

#[test]
fn explore_is_deterministic_and_rejects_bad_targets() {
    assert_eq!(explore_json("30"), explore_json("30"));
    let m = vit();
    for (fps, why) in [("0", "fps"), ("abc", "fps"), ("-3", "fps")] {
        let o = weft(&["explore", path_str(&m), "--fps", fps, "--input-shape", "pixel_values=1x3x32x32"]);
        assert_ne!(code(&o), 0, "--fps {fps} must be refused");
        assert!(stderr(&o).to_lowercase().contains(why), "{}", stderr(&o));
    }
    let o =
        weft(&["explore", path_str(&m), "--fps", "30", "--board", "zcu1", "--input-shape", "pixel_values=1x3x32x32"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("unknown board 'zcu1'"), "{}", stderr(&o));
}

#[test]
fn compile_with_a_target_fps_writes_the_reports() {
    let dir = scratch("explore-compile");
    let out = dir.join("vit");
    let (m, i) = (vit(), root().join("testsuite/models/vit_tiny_opset17/inputs/batch1"));
    let o = weft(&[
        "compile",
        path_str(&m),
        "--weights",
        "1",
        "--fps",
        "30",
        "--inputs",
        path_str(&i),
        "-o",
        path_str(&out),
        "--time-passes",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for phase in ["import", "quantize", "tile-and-pack", "golden outputs (JIT)", "total"] {
        assert!(stderr(&o).lines().any(|l| l.starts_with(phase)), "--time-passes lacks {phase}:\n{}", stderr(&o));
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    for key in ["board", "clock_mhz", "fps", "latency_ms", "weight_bits", "act_bits", "resources", "utilization"] {
        assert!(!report[key].is_null(), "report.json lacks {key}: {report}");
    }
    for key in ["lut", "ff", "dsp", "bram", "uram"] {
        assert!(report["resources"][key].is_number() && report["utilization"][key].is_number(), "{key}");
    }
    assert_eq!(report["weight_bits"], 1);
    assert!(report["fps"].as_f64().unwrap() >= 30.0);
    assert!(out.join("report.txt").is_file() && out.join("report.html").is_file());
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg"), "report.html has charts");

    // An unreachable target: exit 1, the best FPS reachable, no directory.
    let out2 = dir.join("too-fast");
    let o = weft(&[
        "compile",
        path_str(&m),
        "--weights",
        "1",
        "--fps",
        "100000000",
        "--inputs",
        path_str(&i),
        "-o",
        path_str(&out2),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("FPS"), "{}", stderr(&o));
    assert!(!out2.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
