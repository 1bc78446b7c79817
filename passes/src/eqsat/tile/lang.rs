//! The language of tile-and-pack's e-graph: an accelerator design is
//! `(design FC ATTN NL PORT)`, each engine a node over its integer
//! parameters: `(fc T_in T_out T_m)`, `(attn T_in T_out)`, `(nl LANES)`,
//! `(port WORD_BITS)`. All nodes of an engine's e-class are equivalent
//! implementations of that engine (the same results, other timing and
//! resources), so one e-class per engine holds its design space.
//!
//! Invariants: parameters are `Num` leaves >= 1; number classes are never
//! merged, so each holds exactly one `Num`.

use egg::{define_language, EGraph, Id};
use weft_ir::hwcost::engines::{AttnEngine, FcEngine, NlEngine, Port};

define_language! {
    /// Engines and their parameters.
    pub enum TileLang {
        Num(u64),
        "design" = Design([Id; 4]),
        "fc" = Fc([Id; 3]),
        "attn" = Attn([Id; 2]),
        "nl" = Nl([Id; 1]),
        "port" = Port([Id; 1]),
    }
}

pub type TileGraph = EGraph<TileLang, ()>;

/// The number a class holds (0 when it holds none).
pub fn num(g: &TileGraph, id: Id) -> u64 {
    g[id].nodes.iter().find_map(|n| if let TileLang::Num(v) = n { Some(*v) } else { None }).unwrap_or(0)
}

/// The engine choices one class holds, in the e-graph's (deterministic) node order.
pub struct Choices {
    pub fc: Vec<FcEngine>,
    pub attn: Vec<AttnEngine>,
    pub nl: Vec<NlEngine>,
    pub port: Vec<Port>,
}

/// Reads every engine node of the classes the root `design` node points to.
pub fn choices(g: &TileGraph, root: Id) -> Choices {
    let mut c = Choices { fc: Vec::new(), attn: Vec::new(), nl: Vec::new(), port: Vec::new() };
    let Some(TileLang::Design([fc, attn, nl, port])) =
        g[root].nodes.iter().find(|n| matches!(n, TileLang::Design(_))).cloned()
    else {
        return c;
    };
    for n in &g[fc].nodes {
        if let TileLang::Fc([i, o, m]) = n {
            c.fc.push(FcEngine { t_in: num(g, *i), t_out: num(g, *o), t_m: num(g, *m) });
        }
    }
    for n in &g[attn].nodes {
        if let TileLang::Attn([i, o]) = n {
            c.attn.push(AttnEngine { t_in: num(g, *i), t_out: num(g, *o) });
        }
    }
    for n in &g[nl].nodes {
        if let TileLang::Nl([l]) = n {
            c.nl.push(NlEngine { lanes: num(g, *l) });
        }
    }
    for n in &g[port].nodes {
        if let TileLang::Port([w]) = n {
            c.port.push(Port { word_bits: num(g, *w) });
        }
    }
    c
}
