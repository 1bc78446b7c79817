//! The round-trip check: printing a module, parsing the text and printing
//! again gives the same text, and so does going through the generic op
//! form.

use weft_ir::parser::parse_module;
use weft_ir::printer::{print_module, print_module_with, PrintOptions};
use weft_ir::{Context, Module, SourceMap};

/// Checks print -> parse -> print on `module`, in the short and the
/// generic form; the error names the first differing line.
pub fn check_round_trip(ctx: &Context, module: &Module) -> Result<(), String> {
    let printed = print_module(module);
    let reparsed = reparse(ctx, &printed, "printed")?;
    same_text(&printed, &print_module(&reparsed), "print -> parse -> print")?;
    let generic = print_module_with(module, PrintOptions { generic: true });
    let from_generic = reparse(ctx, &generic, "generic")?;
    same_text(&printed, &print_module(&from_generic), "print generic -> parse -> print")
}

fn reparse(ctx: &Context, text: &str, form: &str) -> Result<Module, String> {
    let mut sources = SourceMap::new();
    let file = sources.add(format!("<{form} form>"), text);
    parse_module(ctx, &sources, file).map_err(|diags| {
        let first = diags.first().map_or_else(String::new, |d| {
            let at = d.position(&sources).map_or_else(String::new, |(_, l, c)| format!(" at {l}:{c}"));
            let line = d.position(&sources).and_then(|(_, l, _)| text.lines().nth((l as usize).saturating_sub(1)));
            format!("{at}: {}{}", d.message, line.map_or_else(String::new, |l| format!(" in `{}`", l.trim())))
        });
        format!("the {form} form does not parse{first}")
    })
}

fn same_text(first: &str, second: &str, what: &str) -> Result<(), String> {
    let line = first.lines().zip(second.lines()).position(|(a, b)| a != b);
    match line {
        None if first == second => Ok(()),
        Some(i) => Err(format!(
            "{what} differs at line {}: `{}` became `{}`",
            i + 1,
            first.lines().nth(i).unwrap_or(""),
            second.lines().nth(i).unwrap_or("")
        )),
        None => {
            Err(format!("{what} differs in length ({} vs {} lines)", first.lines().count(), second.lines().count()))
        }
    }
}
