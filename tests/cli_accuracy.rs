//! `weft accuracy`: the per-op table and JSON, and the exit codes of
//! requests that cannot be measured.

mod cli_util;

use cli_util::{code, stderr, stdout, weft};

#[test]
fn one_op_as_a_table_and_as_json() {
    let o = weft(&["accuracy", "--ops", "--op", "softmax", "--method", "quark", "--bits", "8"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("softmax     quark        8 "), "{out}");
    assert!(out.contains("<= 0.01 met"), "{out}");
    // Every method can build GELU at 6 and 8 bits (quark-log too: it has
    // a GELU of its own).
    let o = weft(&["accuracy", "--ops", "--op", "gelu", "--bits", "6,8", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let rows = json["ops"].as_array().unwrap();
    let keys: Vec<(&str, u64)> =
        rows.iter().map(|r| (r["method"].as_str().unwrap(), r["bits"].as_u64().unwrap())).collect();
    assert_eq!(
        keys,
        vec![
            ("quark", 6),
            ("quark", 8),
            ("quark-log", 6),
            ("quark-log", 8),
            ("ibert", 6),
            ("ibert", 8),
            ("lut", 6),
            ("lut", 8)
        ]
    );
    assert!(rows.iter().all(|r| r["built"] == true && r["max_abs_error"].as_f64().unwrap() < 0.06));
}

#[test]
fn the_default_sweep_lists_what_cannot_be_built() {
    let o = weft(&["accuracy", "--ops", "--op", "layer-norm"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.matches("not built").count(), 5, "{out}");
    assert_eq!(out.matches("layer-norm  quark     ").count(), 5, "{out}");
    assert_eq!(out.matches("layer-norm  quark-log ").count(), 5, "{out}");
    // Softmax has no quark-log program of its own: the sweep skips it.
    let o = weft(&["accuracy", "--ops", "--op", "softmax", "--bits", "8"]);
    assert!(!stdout(&o).contains("quark-log"), "{}", stdout(&o));
    // A width alone names no method: the table says what lut cannot build.
    let o = weft(&["accuracy", "--ops", "--op", "layer-norm", "--bits", "8"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("layer-norm  lut          8  not built: cannot be lowered with method 'lut'"));
}

#[test]
fn impossible_requests_exit_1_with_diagnostics() {
    let o = weft(&["accuracy", "--ops", "--op", "softmax", "--bits", "3"]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).is_empty());
    let err = stderr(&o);
    assert!(err.contains("error: softmax with method 'quark' at 3 bits: cannot measure 3-bit activations"), "{err}");
    let o = weft(&["accuracy", "--ops", "--op", "softmax", "--method", "lut", "--bits", "8,10"]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.contains("softmax with method 'lut' at 10 bits: 'quant.softmax' op cannot be lowered with method 'lut'"),
        "{err}"
    );
    assert!(!err.contains("at 8 bits"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let o = weft(&["accuracy"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("nothing to measure: give a MODEL and --quant SCHEME, or --ops"));
    assert_eq!(code(&weft(&["accuracy", "--ops", "--op", "softmax2"])), 2);
    assert_eq!(code(&weft(&["accuracy", "--ops", "--segments", "3"])), 2);
}
