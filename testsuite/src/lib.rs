//! weft-testsuite: the library behind `weft opt` and `weft test`, and the
//! lit-style snapshot tests of the IR, the verifier and the passes.
pub mod lit;
pub mod opt;
pub mod shell;
