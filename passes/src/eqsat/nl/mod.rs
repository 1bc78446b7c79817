//! The nl-level e-graph of `share-nonlinear`: every nonlinear op kind of
//! a program as a root over its input, rewrite rules that state each
//! alternative implementation down to hardware primitives ([`rules`]),
//! and the extraction of one datapath per op kind and method
//! ([`extract`]). The language is in [`lang`].
//!
//! Invariants: the e-graph is built in a fixed order (op kinds in
//! [`OpKind::ALL`] order) with egg's deterministic feature, so the
//! extracted terms are the same every run; a method is available for an
//! op kind exactly when a term built only from the primitives that method
//! implements (plus the common arithmetic) is in the root's class.

pub mod extract;
pub mod lang;
pub mod rules;

pub use extract::{saturate, Datapaths, SaturationLimits, SaturationOutcome};
pub use lang::NlLang;

use crate::transforms::lower_nonlinear::OpKind;
