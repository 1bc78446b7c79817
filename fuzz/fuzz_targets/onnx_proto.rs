//! Fuzzes the `.onnx` reader: any bytes must decode to a model or give a
//! diagnostic, never a panic; every tensor of a decoded model (and the
//! bytes read as a lone TensorProto) must give a payload or an error, and
//! a payload must decode into a tensor; re-encoding a decoded model is
//! stable.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use std::path::PathBuf;
use weft_frontend::onnx::proto::{GraphProto, ModelProto, TensorProto};
use weft_frontend::onnx::{decode_model, payload_to_tensor, OnnxModel};

fn check_tensor(model: &OnnxModel, t: &TensorProto) {
    if let Ok(p) = model.tensor_payload(t) {
        let tensor = payload_to_tensor(&p);
        assert_eq!(tensor.data.len() as u64, tensor.numel(), "payload of {} has the wrong size", t.name);
    }
}

fn check_graph(model: &OnnxModel, g: &GraphProto) {
    for t in &g.initializer {
        check_tensor(model, t);
    }
    for a in g.node.iter().flat_map(|n| &n.attribute) {
        a.t.iter().chain(&a.tensors).for_each(|t| check_tensor(model, t));
        a.g.iter().chain(&a.graphs).for_each(|g| check_graph(model, g));
    }
}

fuzz_target!(|data: &[u8]| {
    // External data resolves against a directory that does not exist.
    let path = PathBuf::from("/nonexistent-weft-fuzz/model.onnx");
    if let Ok(t) = TensorProto::decode(data) {
        check_tensor(&OnnxModel { model: ModelProto::default(), path: path.clone() }, &t);
    }
    let Ok(model) = decode_model(Bytes::copy_from_slice(data), "fuzz.onnx") else {
        return;
    };
    let encoded = model.encode_to_vec();
    let again = ModelProto::decode(&encoded[..]).expect("a re-encoded model decodes");
    assert_eq!(again.encode_to_vec(), encoded, "re-encoding is not stable");
    let model = OnnxModel { model, path };
    if let Some(g) = &model.model.graph {
        check_graph(&model, g);
    }
});
