//! Fuzzes the text format: any bytes must give a module or located
//! diagnostics, never a panic; a module that parses and verifies must
//! round-trip (print -> parse -> print is the identity) and survive the
//! default pipeline.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_ir::{parser, printer, verify, Context, SourceMap};

fuzz_target!(|data: &[u8]| {
    let ctx = Context::default();
    let mut sources = SourceMap::new();
    let Ok(file) = parser::load_source(&mut sources, "fuzz.weft", data.to_vec()) else {
        return;
    };
    let Ok(mut module) = parser::parse_module(&ctx, &sources, file) else {
        return;
    };
    for d in verify::verify_module(&module).err().unwrap_or_default() {
        let _ = d.render(&sources);
        return;
    }
    let first = printer::print_module(&module);
    let (_, again) = parser::parse_str(&ctx, "printed.weft", &first);
    let again = again.unwrap_or_else(|d| panic!("printed module does not parse: {:?}\n{first}", d));
    assert_eq!(first, printer::print_module(&again), "print -> parse -> print changed the text");

    let registry = weft_passes::PassRegistry::with_builtin_passes();
    let pipeline = weft_passes::Pipeline::parse("canonicalize,cse,dce").expect("pipeline");
    let mut pm = weft_passes::PassManager::new(&registry, &pipeline, Default::default()).expect("pass manager");
    let mut log = String::new();
    if let Err(d) = pm.run(&mut module, &ctx, &mut log) {
        panic!("default pipeline failed on a verified module: {d:?}\n{first}");
    }
});
