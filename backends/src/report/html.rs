//! report.html: one self-contained page (no scripts, no external files)
//! with inline SVG charts: each resource as a stacked bar of the engines'
//! shares of the board, FPS against activation bits, and the nonlinear
//! units' LUTs without and with sharing.
//!
//! Invariants: coordinates are printed with one decimal, so the page is
//! byte-identical for the same report; text is HTML-escaped.

use super::{amounts, capacities, frac, Report};
use std::fmt::Write as _;

const COLORS: [&str; 6] = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948"];
const WIDTH: f64 = 640.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Stacked bars: one row per resource, one segment per engine (% of the board).
fn resource_chart(r: &Report) -> String {
    let caps = capacities(&r.board.capacity);
    let rows = ["LUT", "FF", "DSP", "BRAM36"];
    let (left, bar) = (70.0, WIDTH - 90.0);
    let height = 30.0 * rows.len() as f64 + 50.0;
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.1}\">\n");
    for (i, name) in rows.iter().enumerate() {
        let y = 10.0 + 30.0 * i as f64;
        let _ = writeln!(s, "<text x=\"0\" y=\"{:.1}\" font-size=\"12\">{name}</text>", y + 14.0);
        let _ = writeln!(s, "<rect x=\"{left}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"20\" fill=\"#eee\"/>");
        let mut x = left;
        for (j, e) in r.engines.iter().enumerate() {
            let used = amounts(e.resources)[i].1;
            let w = bar * frac(used, caps[i]).min(1.0);
            let color = COLORS[j % COLORS.len()];
            let title = format!("{}: {:.1}% of {name}", e.name, 100.0 * frac(used, caps[i]));
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"20\" fill=\"{color}\"><title>{}</title></rect>",
                escape(&title)
            );
            x += w;
        }
    }
    let legend_y = 10.0 + 30.0 * rows.len() as f64 + 15.0;
    for (j, e) in r.engines.iter().enumerate() {
        let x = left + 120.0 * j as f64;
        let color = COLORS[j % COLORS.len()];
        let _ = writeln!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{color}\"/>",
            legend_y - 10.0
        );
        let _ =
            writeln!(s, "<text x=\"{:.1}\" y=\"{legend_y:.1}\" font-size=\"12\">{}</text>", x + 16.0, escape(&e.name));
    }
    s.push_str("</svg>\n");
    s
}

/// FPS against activation bits: a polyline with labelled points.
fn fps_chart(r: &Report) -> String {
    let pts = &r.fps_by_bits;
    if pts.is_empty() {
        return "<p>No precision search ran (compile with --fps to see FPS against bits).</p>\n".into();
    }
    let (h, left, bottom) = (220.0, 50.0, 190.0);
    let max_fps = pts.iter().map(|p| p.1).fold(r.fps, f64::max).max(1e-9);
    let x_of = |b: u64| left + (b.saturating_sub(4) as f64) * (WIDTH - left - 20.0) / 12.0;
    let y_of = |f: f64| bottom - f / max_fps * (bottom - 20.0);
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{h}\">\n");
    let _ =
        writeln!(s, "<line x1=\"{left}\" y1=\"{bottom}\" x2=\"{:.1}\" y2=\"{bottom}\" stroke=\"#888\"/>", WIDTH - 10.0);
    let _ = writeln!(s, "<line x1=\"{left}\" y1=\"20\" x2=\"{left}\" y2=\"{bottom}\" stroke=\"#888\"/>");
    let line: Vec<String> = pts.iter().map(|&(b, f)| format!("{:.1},{:.1}", x_of(b), y_of(f))).collect();
    let _ = writeln!(
        s,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>",
        line.join(" "),
        COLORS[0]
    );
    for &(b, f) in pts {
        let (x, y) = (x_of(b), y_of(f));
        let fill = if b == r.act_bits { COLORS[3] } else { COLORS[0] };
        let _ = writeln!(s, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{fill}\"/>");
        let _ = writeln!(s, "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\">{f:.1}</text>", x + 5.0, y - 6.0);
        let _ = writeln!(s, "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\">{b}b</text>", x - 6.0, bottom + 15.0);
    }
    s.push_str("</svg>\n");
    s
}

fn sharing_chart(r: &Report) -> String {
    let Some((without, with)) = r.sharing else {
        return "<p>share-nonlinear did not run: one nonlinear unit per op kind.</p>\n".into();
    };
    let max = without.lut.max(with.lut).max(1) as f64;
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"80\">\n");
    for (i, (name, v)) in [("without", without.lut), ("with", with.lut)].into_iter().enumerate() {
        let y = 10.0 + 30.0 * i as f64;
        let w = (WIDTH - 200.0) * v as f64 / max;
        let _ = writeln!(s, "<text x=\"0\" y=\"{:.1}\" font-size=\"12\">{name} sharing</text>", y + 14.0);
        let _ = writeln!(s, "<rect x=\"100\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"20\" fill=\"{}\"/>", COLORS[i]);
        let _ = writeln!(s, "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{v} LUT</text>", 105.0 + w, y + 14.0);
    }
    s.push_str("</svg>\n");
    s
}

/// report.html.
pub fn html(r: &Report) -> String {
    let mut s = String::from("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>weft report</title>\n");
    s.push_str(
        "<style>body{font-family:sans-serif;margin:2em;max-width:720px}pre{background:#f6f6f6;padding:1em}</style>\n",
    );
    s.push_str("</head><body>\n");
    let _ = writeln!(
        s,
        "<h1>{}: {:.2} FPS</h1>\n<p>{:.1} MHz, latency {:.3} ms, w{}a{}</p>",
        escape(&r.board.name),
        r.fps,
        r.clock_mhz,
        r.latency_ms(),
        r.weight_bits,
        r.act_bits
    );
    s.push_str("<h2>Resources per engine (share of the board)</h2>\n");
    s.push_str(&resource_chart(r));
    s.push_str("<h2>FPS against activation bits</h2>\n");
    s.push_str(&fps_chart(r));
    s.push_str("<h2>What sharing saved</h2>\n");
    s.push_str(&sharing_chart(r));
    let _ = writeln!(s, "<h2>Table</h2>\n<pre>{}</pre>", escape(&super::text(r)));
    s.push_str("</body></html>\n");
    s
}
