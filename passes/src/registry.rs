//! The pass registry: pass name -> constructor, and named pipelines
//! (`default` -> `canonicalize,cse,dce`).
//!
//! Invariants: a name is either a pass or a named pipeline, never both (a
//! later registration of a name replaces the earlier one, so a user's crate
//! can override a builtin); a pass's name, summary, options and statistics
//! are read from one instance at registration. Named pipelines are expanded
//! by [`PassRegistry::expand`], which rejects cycles.

use crate::pipeline::{Pipeline, PipelineEntry};
use crate::transforms::{
    canonicalize, cse, dce, expand_attention, fold, fuse, legalize_onnx, lower_nonlinear, quantize, shape_inference,
    share_nonlinear, tile_and_pack,
};
use crate::{Pass, PassOption, PassStatistic};
use std::collections::BTreeMap;
use weft_ir::diag::{closest, did_you_mean};

/// Makes a fresh instance of a pass with its options at their defaults.
pub type PassFactory = fn() -> Box<dyn Pass>;

/// What the registry knows about a pass without instantiating it.
#[derive(Clone)]
pub struct PassInfo {
    pub name: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    pub options: &'static [PassOption],
    pub statistics: &'static [PassStatistic],
    pub factory: PassFactory,
}

/// A name that expands to pipeline text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedPipeline {
    pub name: &'static str,
    pub summary: &'static str,
    pub text: &'static str,
}

/// Passes and named pipelines, by name.
#[derive(Clone, Default)]
pub struct PassRegistry {
    passes: BTreeMap<&'static str, PassInfo>,
    pipelines: BTreeMap<&'static str, NamedPipeline>,
}

impl PassRegistry {
    /// An empty registry.
    pub fn new() -> PassRegistry {
        PassRegistry::default()
    }

    /// Every pass of this crate and the builtin named pipelines.
    pub fn with_builtin_passes() -> PassRegistry {
        let mut r = PassRegistry::new();
        r.register(|| Box::new(canonicalize::Canonicalize::default()));
        r.register(|| Box::new(cse::Cse::default()));
        r.register(|| Box::new(dce::Dce));
        r.register(|| Box::new(expand_attention::ExpandAttention));
        r.register(|| Box::new(fold::Fold::default()));
        r.register(|| Box::new(fuse::Fuse::default()));
        r.register(|| Box::new(tile_and_pack::TileAndPack::default()));
        r.register(|| Box::new(legalize_onnx::LegalizeOnnx::default()));
        r.register(|| Box::new(lower_nonlinear::LowerNonlinear::default()));
        r.register(|| Box::new(share_nonlinear::ShareNonlinear::default()));
        r.register(|| Box::new(quantize::Quantize::default()));
        r.register(|| Box::new(quantize::fold_qdq::FoldQdq));
        r.register(|| Box::new(shape_inference::ShapeInference));
        r.register_pipeline(
            "default",
            "The cleanup every pipeline starts from: canonicalize, cse, dce",
            "canonicalize,cse,dce",
        );
        r.register_pipeline(
            "onnx-to-nn",
            "Imported ONNX to the nn dialect: fold shapes, legalize, fuse LayerNorm/GELU/SiLU/Softmax/attention, clean up",
            "canonicalize,legalize-onnx,fold-qdq,canonicalize,fuse,cse,dce",
        );
        r.register_pipeline(
            "prepare-quant",
            "An nn program made ready for quantize: fuse LayerNorm, GELU, SiLU and Softmax, expand attention, clean up",
            "fuse,expand-attention,cse,dce",
        );
        r
    }

    /// Registers a pass; its name, summary, options and statistics are taken
    /// from one instance.
    pub fn register(&mut self, factory: PassFactory) {
        let pass = factory();
        let info = PassInfo {
            name: pass.name(),
            summary: pass.summary(),
            description: pass.description(),
            options: pass.options(),
            statistics: pass.statistics(),
            factory,
        };
        self.pipelines.remove(info.name);
        self.passes.insert(info.name, info);
    }

    /// Registers a name that expands to `text` (checked when expanded).
    pub fn register_pipeline(&mut self, name: &'static str, summary: &'static str, text: &'static str) {
        self.passes.remove(name);
        self.pipelines.insert(name, NamedPipeline { name, summary, text });
    }

    /// A fresh instance of the pass `name`.
    pub fn create(&self, name: &str) -> Result<Box<dyn Pass>, String> {
        if let Some(info) = self.passes.get(name) {
            return Ok((info.factory)());
        }
        if self.pipelines.contains_key(name) {
            return Err(format!("'{name}' is a named pipeline, not a pass"));
        }
        Err(self.unknown_pass(name))
    }

    /// The pass `name`, if registered.
    pub fn pass_info(&self, name: &str) -> Option<&PassInfo> {
        self.passes.get(name)
    }

    /// The named pipeline `name`, if registered.
    pub fn pipeline(&self, name: &str) -> Option<&NamedPipeline> {
        self.pipelines.get(name)
    }

    /// Every pass, sorted by name: name, summary, options (for help text).
    pub fn list(&self) -> Vec<(&'static str, &'static str, &'static [PassOption])> {
        self.passes.values().map(|p| (p.name, p.summary, p.options)).collect()
    }

    /// Every pass with everything known about it, sorted by name.
    pub fn passes(&self) -> impl Iterator<Item = &PassInfo> {
        self.passes.values()
    }

    /// Every named pipeline, sorted by name.
    pub fn pipelines(&self) -> Vec<NamedPipeline> {
        self.pipelines.values().copied().collect()
    }

    /// "unknown pass 'dcee'; did you mean 'dce'?"
    pub fn unknown_pass(&self, name: &str) -> String {
        let names = self.passes.keys().chain(self.pipelines.keys()).copied();
        match did_you_mean(&closest(name, names)) {
            Some(hint) => format!("unknown pass '{name}'; {hint}"),
            None => format!("unknown pass '{name}'"),
        }
    }

    /// Replaces every named pipeline by the entries it stands for,
    /// recursively; unknown names are errors.
    pub fn expand(&self, pipeline: &Pipeline) -> Result<Vec<PipelineEntry>, String> {
        let mut out = Vec::new();
        self.expand_into(pipeline, &mut Vec::new(), &mut out)?;
        Ok(out)
    }

    fn expand_into(
        &self,
        pipeline: &Pipeline,
        stack: &mut Vec<&'static str>,
        out: &mut Vec<PipelineEntry>,
    ) -> Result<(), String> {
        for entry in &pipeline.entries {
            if self.passes.contains_key(entry.name.as_str()) {
                out.push(entry.clone());
                continue;
            }
            let Some(named) = self.pipelines.get(entry.name.as_str()) else {
                return Err(self.unknown_pass(&entry.name));
            };
            if !entry.options.is_empty() {
                return Err(format!("pipeline '{}' takes no options", named.name));
            }
            if stack.contains(&named.name) {
                let cycle: Vec<&str> = stack.iter().copied().chain([named.name]).collect();
                return Err(format!("pipeline '{}' includes itself: {}", named.name, cycle.join(" -> ")));
            }
            let inner = Pipeline::parse(named.text).map_err(|e| format!("in pipeline '{}': {e}", named.name))?;
            stack.push(named.name);
            self.expand_into(&inner, stack, out)?;
            stack.pop();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(entries: &[PipelineEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.name.as_str()).collect()
    }

    #[test]
    fn builtin_passes_are_listed_sorted() {
        let r = PassRegistry::with_builtin_passes();
        let listed: Vec<&str> = r.list().iter().map(|p| p.0).collect();
        assert_eq!(
            listed,
            vec![
                "canonicalize",
                "cse",
                "dce",
                "expand-attention",
                "fold",
                "fold-qdq",
                "fuse",
                "legalize-onnx",
                "lower-nonlinear",
                "quantize",
                "shape-inference",
                "share-nonlinear",
                "tile-and-pack"
            ]
        );
        assert!(r.list().iter().all(|p| !p.1.is_empty()));
        assert_eq!(r.create("cse").unwrap().name(), "cse");
    }

    #[test]
    fn unknown_names_get_suggestions() {
        let r = PassRegistry::with_builtin_passes();
        assert_eq!(r.create("dcee").err().unwrap(), "unknown pass 'dcee'; did you mean 'dce'?");
        assert_eq!(
            r.create("canonicalise").err().unwrap(),
            "unknown pass 'canonicalise'; did you mean 'canonicalize'?"
        );
        assert_eq!(r.create("defualt").err().unwrap(), "unknown pass 'defualt'; did you mean 'default'?");
        assert_eq!(r.create("quantize-everything").err().unwrap(), "unknown pass 'quantize-everything'");
        assert_eq!(r.create("default").err().unwrap(), "'default' is a named pipeline, not a pass");
    }

    #[test]
    fn named_pipelines_expand_recursively() {
        let mut r = PassRegistry::with_builtin_passes();
        r.register_pipeline("twice", "", "default,fold{max-elements=4}");
        let p = Pipeline::parse("dce,twice").unwrap();
        let expanded = r.expand(&p).unwrap();
        assert_eq!(names(&expanded), vec!["dce", "canonicalize", "cse", "dce", "fold"]);
        assert_eq!(expanded[4].options, vec![("max-elements".to_string(), "4".to_string())]);
    }

    #[test]
    fn expansion_errors() {
        let mut r = PassRegistry::with_builtin_passes();
        r.register_pipeline("a", "", "dce,b");
        r.register_pipeline("b", "", "a");
        r.register_pipeline("broken", "", "dce,,cse");
        let expand = |t: &str| r.expand(&Pipeline::parse(t).unwrap()).unwrap_err();
        assert_eq!(expand("a"), "pipeline 'a' includes itself: a -> b -> a");
        assert_eq!(expand("default{x=1}"), "pipeline 'default' takes no options");
        assert_eq!(expand("broken"), "in pipeline 'broken': expected a pass name at column 5 (found ',')");
        assert_eq!(expand("cse,dcee"), "unknown pass 'dcee'; did you mean 'dce'?");
    }

    #[test]
    fn later_registration_replaces() {
        let mut r = PassRegistry::with_builtin_passes();
        r.register_pipeline("dce", "", "cse");
        assert!(r.pass_info("dce").is_none());
        assert_eq!(names(&r.expand(&Pipeline::parse("dce").unwrap()).unwrap()), vec!["cse"]);
        r.register(|| Box::new(dce::Dce));
        assert!(r.pipeline("dce").is_none());
        assert!(r.pass_info("dce").is_some());
    }
}
