//! `weft boards`: the table, one board as JSON, board files and errors.

use std::process::Command;

fn weft(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_weft")).args(args).output().expect("runs weft");
    let code = out.status.code().unwrap_or(-1);
    (code, String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn lists_every_board() {
    let (code, out, _) = weft(&["boards"]);
    assert_eq!(code, 0);
    for name in ["zcu102", "zcu104", "kv260", "u50", "u250", "u280", "vck190"] {
        assert!(out.lines().any(|l| l.starts_with(name)), "{name} missing:\n{out}");
    }
    assert!(out.contains("xczu9eg-ffvb1156-2-e") && out.contains("274,080"), "{out}");
}

#[test]
fn one_board_as_json() {
    let (code, out, _) = weft(&["boards", "zcu102", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let b = &v[0];
    assert_eq!(b["name"], "zcu102");
    assert_eq!(b["resources"]["dsp"], 2520);
    assert_eq!(b["resources"]["bram"], 912);
    assert_eq!(b["clock_mhz"], 300.0);
}

#[test]
fn board_file_and_its_errors() {
    let dir = std::env::temp_dir().join(format!("weft-boards-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("half.toml");
    std::fs::write(&good, "name = \"half\"\nbase = \"zcu102\"\nlut = 137040\n").unwrap();
    let (code, out, _) = weft(&["boards", good.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0);
    assert!(out.contains("\"lut\": 137040"), "{out}");

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\nbase = \"zcu102\"\ndsp = 0\n").unwrap();
    let (code, _, err) = weft(&["boards", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("'dsp' = 0 is out of range") && err.contains("bad.toml:3:"), "{err}");

    let (code, _, err) = weft(&["boards", "zcu1020"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown board 'zcu1020'"), "{err}");
    let (code, _, err) = weft(&["boards", dir.join("missing.toml").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot read board file"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
