//! Masks the parts of pass-manager output that change from run to run, so
//! that snapshots are stable: `--time-passes` lines such as
//! `  0.0012s (12.3%)  cse` become `  <time>  cse`, and the header's
//! `Total Execution Time: 0.0012s` becomes `Total Execution Time: <time>`.
//!
//! Invariant: only text of the exact timing shape `D.Ds (D.D%)` (with
//! optional spaces inside the parentheses), or `D.Ds` right after
//! `Execution Time: `, is replaced; everything else is copied unchanged.

/// What precedes a bare `D.Ds` duration that is masked.
const TOTAL_PREFIX: &str = "Execution Time: ";

/// Replaces every `0.0012s (12.3%)`, and `0.0012s` after
/// `Execution Time: `, in `text` by `<time>`.
pub fn mask_timings(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.');
        if starts_word && bytes[i].is_ascii_digit() {
            let total = text[..i].ends_with(TOTAL_PREFIX);
            if let Some(end) = match_timing(bytes, i).or_else(|| total.then(|| match_seconds(bytes, i)).flatten()) {
                out.push_str(&text[copied..i]);
                out.push_str("<time>");
                copied = end;
                i = end;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

/// The end of a duration `D.Ds` starting at `i`, if there is one.
fn match_seconds(b: &[u8], i: usize) -> Option<usize> {
    let i = decimal(b, i)?;
    literal(b, i, b"s")
}

/// The end of a timing `D.Ds (D.D%)` starting at `i`, if there is one.
fn match_timing(b: &[u8], i: usize) -> Option<usize> {
    let i = match_seconds(b, i)?;
    let i = spaces(b, i);
    let i = literal(b, i, b"(")?;
    let i = spaces(b, i);
    let i = decimal(b, i)?;
    let i = literal(b, i, b"%")?;
    let i = spaces(b, i);
    literal(b, i, b")")
}

/// `D+.D+` from `i`; the position after it.
fn decimal(b: &[u8], i: usize) -> Option<usize> {
    let i = digits(b, i)?;
    let i = literal(b, i, b".")?;
    digits(b, i)
}

fn digits(b: &[u8], i: usize) -> Option<usize> {
    let n = b.get(i..)?.iter().take_while(|c| c.is_ascii_digit()).count();
    (n > 0).then_some(i + n)
}

fn literal(b: &[u8], i: usize, lit: &[u8]) -> Option<usize> {
    b.get(i..)?.starts_with(lit).then_some(i + lit.len())
}

fn spaces(b: &[u8], i: usize) -> usize {
    i + b.get(i..).map_or(0, |r| r.iter().take_while(|&&c| c == b' ').count())
}

#[cfg(test)]
mod tests {
    use super::mask_timings;

    #[test]
    fn masks_timing_lines() {
        let log = "  0.0012s (12.3%)  cse\n  0.0100s (100.0%)  total\n";
        assert_eq!(mask_timings(log), "  <time>  cse\n  <time>  total\n");
    }

    #[test]
    fn masks_the_total_in_the_header() {
        assert_eq!(mask_timings("  Total Execution Time: 0.0001s\n"), "  Total Execution Time: <time>\n");
        assert_eq!(mask_timings("Time: 0.0001s\n"), "Time: 0.0001s\n");
    }

    #[test]
    fn masks_padded_percentages() {
        assert_eq!(mask_timings("1.5s (  2.0%) dce"), "<time> dce");
    }

    #[test]
    fn leaves_other_numbers_alone() {
        let text = "dense<1.5> : tensor<2xf32>\nv1.0s (3%)\n2.0s and (1.0%)\n";
        assert_eq!(mask_timings(text), text);
    }

    #[test]
    fn keeps_non_ascii_text() {
        assert_eq!(mask_timings("é 0.1s (1.0%) ü"), "é <time> ü");
    }
}
