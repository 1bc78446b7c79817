//! The resource model's cost of primitives given on standard input, one
//! per line, for scripts that compare it with synthesis
//! (scripts/calibrate/synth_primitives.py):
//!
//! - `KIND A B OUT OPERANDS [LANES]`: one instance of a primitive
//!   (`KIND` as reports name it: `adder`, `comparator`, `rounding-shift`,
//!   ...) in a unit of `LANES` lanes (default 1; a lane reduction such as
//!   `add-tree` spans them), without mode muxes;
//! - `mode-mux WIDTH INPUTS`: the mux in front of a shared operand.
//!
//! Each line prints `LUT FF DSP BRAM18`; a line that cannot be read
//! prints `error: ...` and the program exits with 1 at the end.

use std::io::BufRead;
use weft_ir::hwcost::{mux, Primitive, PrimitiveKind, Resources};

fn cost(line: &str) -> Result<Resources, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let numbers = |from: usize| -> Result<Vec<u64>, String> {
        words[from..].iter().map(|w| w.parse::<u64>().map_err(|_| format!("not a number: '{w}'"))).collect()
    };
    match words.first().copied() {
        Some("mode-mux") => match numbers(1)?[..] {
            [width, inputs] => Ok(mux(width, inputs)),
            _ => Err("expected: mode-mux WIDTH INPUTS".into()),
        },
        Some(name) => {
            let kind = PrimitiveKind::from_name(name).ok_or_else(|| format!("unknown primitive '{name}'"))?;
            match numbers(1)?[..] {
                [a, b, out, operands] => Ok(Primitive::new(kind, a, b, out, operands).cost(1)),
                [a, b, out, operands, lanes] => Ok(Primitive::new(kind, a, b, out, operands).cost(lanes)),
                _ => Err(format!("expected: {name} A B OUT OPERANDS [LANES]")),
            }
        }
        None => Err("empty line".into()),
    }
}

fn main() {
    let mut failed = false;
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        match cost(&line) {
            Ok(r) => println!("{} {} {} {}", r.lut, r.ff, r.dsp, r.bram18),
            Err(e) => {
                println!("error: {e}");
                failed = true;
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
