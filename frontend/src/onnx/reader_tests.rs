//! The `.onnx` reader: models built and encoded here, decoded back from
//! files and buffers; every file-level error class.

use super::*;
use crate::onnx::proto::{DataType, GraphProto, NodeProto, OperatorSetIdProto, TensorProto};
use weft_ir::tensor::TensorData;

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weft-reader-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn sample_model() -> ModelProto {
    let w = TensorProto {
        name: "w".into(),
        data_type: DataType::Float as i32,
        dims: vec![2],
        raw_data: Bytes::from([0.5f32, -1.0].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()),
        ..Default::default()
    };
    let node = NodeProto {
        input: vec!["X".into(), "w".into()],
        output: vec!["Y".into()],
        name: "add".into(),
        op_type: "Add".into(),
        ..Default::default()
    };
    let graph = GraphProto { name: "g".into(), node: vec![node], initializer: vec![w], ..Default::default() };
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 17 }],
        producer_name: "weft-tests".into(),
        graph: Some(graph),
        ..Default::default()
    }
}

fn message(result: Result<OnnxModel, Diagnostic>) -> String {
    result.expect_err("an error").message
}

#[test]
fn encode_then_read_back() {
    let dir = temp_dir("round-trip");
    let path = dir.join("model.onnx");
    let model = sample_model();
    std::fs::write(&path, model.encode_to_vec()).expect("write");
    let read = read_model(&path).expect("reads");
    assert_eq!(read.model, model);
    assert_eq!(read.path, path);
    assert_eq!(read.dir(), dir.as_path());
    let graph = read.model.graph.as_ref().expect("graph");
    let p = read.tensor_payload(&graph.initializer[0]).expect("payload");
    assert_eq!(payload_to_tensor(&p).data, TensorData::F32(vec![0.5, -1.0]));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn decoding_a_buffer_keeps_raw_data_in_it() {
    let bytes = Bytes::from(sample_model().encode_to_vec());
    let model = decode_model(bytes.clone(), "m.onnx").expect("decodes");
    let raw = &model.graph.as_ref().expect("graph").initializer[0].raw_data;
    assert!(bytes.as_ptr_range().contains(&raw.as_ptr()), "raw_data was copied");
}

#[test]
fn a_model_without_a_directory_reads_relative_to_the_current_one() {
    let m = OnnxModel { model: ModelProto::default(), path: PathBuf::from("model.onnx") };
    assert_eq!(m.dir(), Path::new("."));
}

#[test]
fn file_errors_start_with_the_path() {
    let dir = temp_dir("errors");
    let missing = dir.join("missing.onnx");
    assert_eq!(message(read_model(&missing)), format!("{}: no such file", missing.display()));
    assert_eq!(message(read_model(&dir)), format!("{}: is a directory, not an ONNX model", dir.display()));

    let empty = dir.join("empty.onnx");
    std::fs::write(&empty, b"").expect("write");
    assert_eq!(message(read_model(&empty)), format!("{}: the file is empty, not an ONNX model", empty.display()));

    let truncated = dir.join("truncated.onnx");
    let mut bytes = sample_model().encode_to_vec();
    bytes.truncate(bytes.len() - 5);
    std::fs::write(&truncated, &bytes).expect("write");
    let m = message(read_model(&truncated));
    assert!(
        m.starts_with(&format!("{}: not a valid ONNX protobuf (truncated or corrupt): ", truncated.display())),
        "{m}"
    );

    let garbage = dir.join("garbage.onnx");
    std::fs::write(&garbage, [0xffu8; 64]).expect("write");
    assert!(message(read_model(&garbage)).contains("not a valid ONNX protobuf"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn protobufs_that_are_not_models_are_refused() {
    let graphless = ModelProto { graph: None, ..sample_model() };
    let d = decode_model(Bytes::from(graphless.encode_to_vec()), "t.onnx").expect_err("no graph");
    assert_eq!(d.message, "t.onnx: not an ONNX model: the protobuf has no graph");
    let no_version = ModelProto { ir_version: 0, ..sample_model() };
    let d = decode_model(Bytes::from(no_version.encode_to_vec()), "m.onnx").expect_err("no IR version");
    assert_eq!(d.message, "m.onnx: not an ONNX model: its IR version is 0");
    assert_eq!(
        decode_model(Bytes::new(), "e.onnx").expect_err("empty").message,
        "e.onnx: the file is empty, not an ONNX model"
    );
}

#[test]
fn text_models_get_a_hint() {
    let text = Bytes::from_static(b"<\n  ir_version: 8\n>\ng (float X) => (float Y) { Y = Relu(X) }\n");
    let d = decode_model(text, "model.onnx").expect_err("text is not protobuf");
    assert!(d.message.starts_with("model.onnx: not a valid ONNX protobuf"), "{}", d.message);
    assert!(d.notes.iter().any(|n| n.message.contains("*.onnxtxt")), "{:?}", d.notes);
}

#[test]
fn tensor_pb_files() {
    let dir = temp_dir("tensor-pb");
    let path = dir.join("input_0.pb");
    let t = TensorProto {
        name: "input_ids".into(),
        data_type: DataType::Int64 as i32,
        dims: vec![1, 3],
        int64_data: vec![101, 2023, 102],
        ..Default::default()
    };
    std::fs::write(&path, t.encode_to_vec()).expect("write");
    let (name, tensor) = read_tensor_pb(&path).expect("reads");
    assert_eq!(name, "input_ids");
    assert_eq!(tensor.shape, vec![1, 3]);
    assert_eq!(tensor.data, TensorData::Int(vec![101, 2023, 102]));

    let bad = TensorProto { int64_data: vec![1], ..t };
    std::fs::write(&path, bad.encode_to_vec()).expect("write");
    let d = read_tensor_pb(&path).expect_err("count mismatch");
    assert!(d.message.starts_with(&format!("{}: tensor 'input_ids' has 1 values", path.display())), "{}", d.message);
    std::fs::write(&path, [0x0a, 0xff]).expect("write");
    let d = read_tensor_pb(&path).expect_err("corrupt");
    assert!(d.message.contains("not a valid ONNX TensorProto"), "{}", d.message);
    let d = read_tensor_pb(&dir.join("none.pb")).expect_err("missing");
    assert!(d.message.ends_with("none.pb: no such file"), "{}", d.message);
    let _ = std::fs::remove_dir_all(&dir);
}
