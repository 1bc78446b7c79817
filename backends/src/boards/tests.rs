//! Tests of the board table and of board files.

use super::custom::parse_board;
use super::*;
use weft_ir::{FileId, SourceMap};

fn read(text: &str) -> Result<Board, String> {
    let mut sources = SourceMap::new();
    let file: FileId = sources.add("board.toml", text);
    parse_board(text, file).map_err(|d| d.render(&sources))
}

#[test]
fn table_is_complete_and_consistent() {
    let boards = builtin();
    let names: Vec<&str> = boards.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["zcu102", "zcu104", "kv260", "u50", "u250", "u280", "vck190"]);
    for b in &boards {
        let c = b.capacity;
        assert!(c.lut > 0 && c.ff == 2 * c.lut, "{}: UltraScale+/Versal CLBs have 2 FFs per LUT", b.name);
        assert!(c.dsp > 0 && c.bram > 0, "{}", b.name);
        assert!(b.memory_gbps > 0.0 && b.clock_mhz > 0.0, "{}", b.name);
        assert!(b.part.starts_with("xc"), "{}", b.name);
    }
    // The one board PAPERS.md gives: the ZCU102's XCZU9EG.
    let zcu102 = lookup("ZCU102").unwrap();
    assert_eq!(zcu102.capacity, Capacity { lut: 274_080, ff: 548_160, dsp: 2_520, bram: 912, uram: 0 });
}

#[test]
fn lookup_accepts_alveo_prefix_and_suggests() {
    assert_eq!(lookup("alveo-u280").unwrap().name, "u280");
    let err = lookup("zcu012").unwrap_err();
    assert!(err.contains("unknown board 'zcu012'") && err.contains("did you mean"), "{err}");
    assert!(err.contains("zcu102, zcu104"), "{err}");
}

#[test]
fn board_file_from_base_overrides_fields() {
    let b = read("name = \"half\"\nbase = \"zcu102\"\nlut = 137_040\nclock-mhz = 250\n").unwrap();
    assert_eq!(b.name, "half");
    assert_eq!(b.part, "xczu9eg-ffvb1156-2-e");
    assert_eq!(b.capacity.lut, 137_040);
    assert_eq!(b.capacity.dsp, 2_520);
    assert_eq!(b.clock_mhz, 250.0);
}

#[test]
fn board_file_without_base_needs_every_key() {
    let full = "name = \"mine\"\npart = \"xczu3eg-sbva484-1-e\"\nlut = 70560\nff = 141120\ndsp = 360\n\
                bram = 216\nmemory-gbps = 8.5\nclock-mhz = 200.0\n";
    let b = read(full).unwrap();
    assert_eq!(b.capacity, Capacity { lut: 70_560, ff: 141_120, dsp: 360, bram: 216, uram: 0 });
    assert_eq!(b.dsp_kind, DspKind::Dsp48e2);
    let err = read("name = \"mine\"\nlut = 5\n").unwrap_err();
    assert!(err.contains("missing part, ff, dsp, bram, memory-gbps, clock-mhz"), "{err}");
}

#[test]
fn board_file_errors_point_at_the_value() {
    let err = read("base = \"zcu102\"\nname = \"x\"\nlut = -4\n").unwrap_err();
    assert!(err.contains("'lut' = -4 is out of range") && err.contains("board.toml:3:"), "{err}");
    let err = read("base = \"zcu102\"\nname = \"x\"\nluts = 4\n").unwrap_err();
    assert!(err.contains("unknown key 'luts'") && err.contains("did you mean 'lut'"), "{err}");
    let err = read("base = \"zcu9\"\nname = \"x\"\n").unwrap_err();
    assert!(err.contains("unknown board 'zcu9'") && err.contains("board.toml:1:"), "{err}");
    let err = read("base = \"zcu102\"\nname = \"x\"\nclock-mhz = \"fast\"\n").unwrap_err();
    assert!(err.contains("'clock-mhz' must be a number"), "{err}");
    let err = read("name = [\n").unwrap_err();
    assert!(err.contains("invalid board file"), "{err}");
    let err = read("base = \"zcu102\"\nname = \"x\"\ndsp-kind = \"DSP99\"\n").unwrap_err();
    assert!(err.contains("unknown dsp-kind 'DSP99'"), "{err}");
}
