//! The report's keys and numbers.

use super::*;
use crate::boards::lookup;

fn sample() -> Report {
    Report {
        board: lookup("zcu102").expect("builtin"),
        clock_mhz: 300.0,
        fps: 25.0,
        weight_bits: 1,
        act_bits: 8,
        word_bits: 128,
        engines: vec![
            EngineRow {
                name: "fc".into(),
                params: "t_in=32".into(),
                resources: Resources::new(137_040, 1000, 0, 912),
                cycles: 10_000_000,
            },
            EngineRow {
                name: "attn".into(),
                params: "t_in=8".into(),
                resources: Resources::new(0, 0, 252, 0),
                cycles: 2_000_000,
            },
        ],
        fps_by_bits: vec![(4, 40.0), (8, 25.0)],
        sharing: None,
    }
}

#[test]
fn json_has_the_keys_and_fractions() {
    let v: serde_json::Value = serde_json::from_str(&json(&sample())).expect("valid JSON");
    for k in ["board", "clock_mhz", "fps", "latency_ms", "weight_bits", "act_bits", "resources", "utilization"] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    for k in ["lut", "ff", "dsp", "bram", "uram"] {
        assert!(v["resources"].get(k).is_some() && v["utilization"].get(k).is_some(), "missing {k}");
    }
    // 137040 of 274080 LUTs; 912 RAMB18 = 456 of 912 BRAM36; 252 of 2520 DSPs.
    assert_eq!(v["utilization"]["lut"], 0.5);
    assert_eq!(v["utilization"]["bram"], 0.5);
    assert_eq!(v["utilization"]["dsp"], 0.1);
    // 12M cycles at 300 MHz.
    assert_eq!(v["latency_ms"], 40.0);
}

#[test]
fn html_is_self_contained_and_deterministic() {
    let a = html(&sample());
    assert_eq!(a, html(&sample()));
    assert!(a.contains("<svg") && !a.contains("<script") && !a.contains("http://www.w3.org/1999"));
    assert!(a.contains("40.0") && a.contains("8b"));
}

#[test]
fn text_lists_every_engine_and_the_total() {
    let t = text(&sample());
    assert!(t.contains("fc ") && t.contains("attn") && t.contains("total"), "{t}");
    assert!(t.contains("lut 50.0%"), "{t}");
}
