//! Tensor payloads: raw and typed data of every supported element type,
//! 4-bit packing, external data, and every error class.

use super::*;
use crate::onnx::proto::StringStringEntryProto;
use std::path::PathBuf;
use weft_ir::tensor::TensorData;

fn tensor(name: &str, dt: DataType, dims: &[i64]) -> TensorProto {
    TensorProto { name: name.into(), data_type: dt as i32, dims: dims.to_vec(), ..Default::default() }
}

fn payload(t: &TensorProto) -> Result<TensorPayload, String> {
    tensor_payload_in(Path::new("/nonexistent"), t)
}

fn ints(t: &TensorProto) -> Vec<i64> {
    match payload_to_tensor(&payload(t).expect("payload")).data {
        TensorData::Int(v) => v,
        other => panic!("not integers: {other:?}"),
    }
}

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weft-payload-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

#[test]
fn element_types_map_both_ways() {
    let supported = [
        (DataType::Float, ElemType::F32),
        (DataType::Double, ElemType::F64),
        (DataType::Float16, ElemType::F16),
        (DataType::Bfloat16, ElemType::BF16),
        (DataType::Bool, ElemType::Bool),
        (DataType::Int4, ElemType::Int { width: 4, signed: true }),
        (DataType::Int8, ElemType::I8),
        (DataType::Int16, ElemType::Int { width: 16, signed: true }),
        (DataType::Int32, ElemType::I32),
        (DataType::Int64, ElemType::I64),
        (DataType::Uint4, ElemType::Int { width: 4, signed: false }),
        (DataType::Uint8, ElemType::Int { width: 8, signed: false }),
        (DataType::Uint16, ElemType::Int { width: 16, signed: false }),
        (DataType::Uint32, ElemType::Int { width: 32, signed: false }),
        (DataType::Uint64, ElemType::Int { width: 64, signed: false }),
    ];
    for (dt, elem) in supported {
        assert_eq!(onnx_elem_type(dt as i32), Ok(elem.clone()), "{dt:?}");
        assert_eq!(onnx_data_type(&elem), Ok(dt as i32), "{elem}");
    }
    for dt in [DataType::String, DataType::Complex64, DataType::Complex128, DataType::Float8e4m3fn, DataType::Int2] {
        let err = onnx_elem_type(dt as i32).expect_err("unsupported");
        assert!(err.contains(dt.as_str_name()) && err.contains("not supported"), "{err}");
    }
    assert!(onnx_elem_type(0).expect_err("undefined").contains("UNDEFINED"));
    assert_eq!(onnx_elem_type(99), Err("unknown ONNX data type 99".to_string()));
    assert!(onnx_data_type(&ElemType::Int { width: 12, signed: true }).is_err());
    assert_eq!(data_type_name(16), "BFLOAT16");
    assert_eq!(data_type_name(-3), "data type -3");
}

#[test]
fn raw_data_is_sliced_not_copied() {
    let raw = Bytes::from([1.0f32, -2.5, 3.0, 0.5].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>());
    let t = TensorProto { raw_data: raw.clone(), ..tensor("w", DataType::Float, &[2, 2]) };
    let p = payload(&t).expect("payload");
    assert_eq!(p.elem, ElemType::F32);
    assert_eq!(p.shape, vec![2, 2]);
    assert_eq!(p.data.as_ptr(), raw.as_ptr(), "raw_data was copied");
    assert_eq!(payload_to_tensor(&p).data, TensorData::F32(vec![1.0, -2.5, 3.0, 0.5]));
}

#[test]
fn typed_fields_of_every_type() {
    let f = TensorProto { float_data: vec![1.5, -2.0], ..tensor("f", DataType::Float, &[2]) };
    assert_eq!(payload_to_tensor(&payload(&f).expect("f32")).data, TensorData::F32(vec![1.5, -2.0]));
    let d = TensorProto { double_data: vec![1e-300, -0.5], ..tensor("d", DataType::Double, &[2]) };
    assert_eq!(payload_to_tensor(&payload(&d).expect("f64")).data, TensorData::F64(vec![1e-300, -0.5]));
    let h = TensorProto { int32_data: vec![0x3C00, 0xC000, -16384], ..tensor("h", DataType::Float16, &[3]) };
    let halves = [f16::from_f32(1.0), f16::from_f32(-2.0), f16::from_f32(-2.0)];
    assert_eq!(payload_to_tensor(&payload(&h).expect("f16")).data, TensorData::F16(halves.to_vec()));
    let b = TensorProto { int32_data: vec![0x3F80], ..tensor("b", DataType::Bfloat16, &[1]) };
    assert_eq!(payload_to_tensor(&payload(&b).expect("bf16")).data, TensorData::BF16(vec![bf16::from_f32(1.0)]));

    let int32 = |dt, values: &[i32]| TensorProto { int32_data: values.to_vec(), ..tensor("i", dt, &[3]) };
    assert_eq!(ints(&int32(DataType::Int8, &[-128, 0, 127])), vec![-128, 0, 127]);
    assert_eq!(ints(&int32(DataType::Uint8, &[0, 200, 255])), vec![0, 200, 255]);
    assert_eq!(ints(&int32(DataType::Int16, &[-32768, 1, 32767])), vec![-32768, 1, 32767]);
    assert_eq!(ints(&int32(DataType::Uint16, &[0, 1, 65535])), vec![0, 1, 65535]);
    assert_eq!(ints(&int32(DataType::Int32, &[i32::MIN, 0, i32::MAX])), vec![i32::MIN as i64, 0, i32::MAX as i64]);
    assert_eq!(ints(&int32(DataType::Bool, &[1, 0, 7])), vec![1, 0, 1]);
    let p = payload(&int32(DataType::Bool, &[1, 0, 7])).expect("bool");
    assert_eq!(&p.data[..], &[1, 0, 1], "bools are one byte each, 0 or 1");

    let i64s = TensorProto { int64_data: vec![i64::MIN, -1, i64::MAX], ..tensor("l", DataType::Int64, &[3]) };
    assert_eq!(ints(&i64s), vec![i64::MIN, -1, i64::MAX]);
    let u32s = TensorProto { uint64_data: vec![0, 7, u32::MAX as u64], ..tensor("u", DataType::Uint32, &[3]) };
    assert_eq!(ints(&u32s), vec![0, 7, u32::MAX as i64]);
    let u64s = TensorProto { uint64_data: vec![0, 7, u64::MAX], ..tensor("u", DataType::Uint64, &[3]) };
    assert_eq!(ints(&u64s), vec![0, 7, -1], "u64 keeps its bit pattern in i64");
    let p = payload(&u64s).expect("u64");
    assert_eq!(p.data.len(), 24);
}

#[test]
fn raw_data_of_every_type_matches_typed_fields() {
    let cases: Vec<(DataType, Vec<u8>, TensorProto)> = vec![
        (DataType::Int8, vec![0x80, 0x7f], TensorProto { int32_data: vec![-128, 127], ..Default::default() }),
        (DataType::Uint16, vec![0xff, 0xff, 1, 0], TensorProto { int32_data: vec![65535, 1], ..Default::default() }),
        (
            DataType::Int64,
            [-5i64, 9].iter().flat_map(|v| v.to_le_bytes()).collect(),
            TensorProto { int64_data: vec![-5, 9], ..Default::default() },
        ),
        (
            DataType::Double,
            [0.5f64, -1.0].iter().flat_map(|v| v.to_le_bytes()).collect(),
            TensorProto { double_data: vec![0.5, -1.0], ..Default::default() },
        ),
        (DataType::Bool, vec![1, 0], TensorProto { int32_data: vec![1, 0], ..Default::default() }),
        (
            DataType::Float16,
            vec![0x00, 0x3c, 0x00, 0xc0],
            TensorProto { int32_data: vec![0x3c00, 0xc000], ..Default::default() },
        ),
    ];
    for (dt, raw, typed) in cases {
        let from_raw = TensorProto { raw_data: Bytes::from(raw), ..tensor("x", dt, &[2]) };
        let from_typed = TensorProto { data_type: dt as i32, dims: vec![2], name: "x".into(), ..typed };
        assert_eq!(payload(&from_raw), payload(&from_typed), "{dt:?}");
    }
}

#[test]
fn four_bit_types_unpack_to_one_byte_each() {
    // Raw data: pairs, first element in the low nibble.
    let raw = TensorProto { raw_data: Bytes::from_static(&[0x78, 0xf0, 0x03]), ..tensor("q", DataType::Int4, &[5]) };
    assert_eq!(ints(&raw), vec![-8, 7, 0, -1, 3]);
    let p = payload(&raw).expect("int4");
    assert_eq!(&p.data[..], &[0xf8, 0x07, 0x00, 0xff, 0x03]);
    let packed = TensorProto { int32_data: vec![0x78, 0xf0, 0x03], ..tensor("q", DataType::Int4, &[5]) };
    assert_eq!(payload(&packed), Ok(p.clone()));
    // One entry per element, as the text parser writes them.
    let unpacked = TensorProto { int32_data: vec![-8, 7, 0, -1, 3], ..tensor("q", DataType::Int4, &[5]) };
    assert_eq!(payload(&unpacked), Ok(p));
    let u4 = TensorProto { raw_data: Bytes::from_static(&[0xf0, 0x91]), ..tensor("u", DataType::Uint4, &[4]) };
    assert_eq!(ints(&u4), vec![0, 15, 1, 9]);
    let bad = TensorProto { int32_data: vec![1, 2, 3, 4], ..tensor("q", DataType::Int4, &[5]) };
    let err = payload(&bad).expect_err("wrong count");
    assert!(err.contains("has 4 values in int32_data") && err.contains("3 packed bytes"), "{err}");
}

#[test]
fn shapes_are_checked() {
    let neg = TensorProto { float_data: vec![], ..tensor("w", DataType::Float, &[2, -1]) };
    assert_eq!(payload(&neg), Err("tensor 'w' has a negative dimension -1 in [2, -1]".to_string()));
    let huge = tensor("w", DataType::Float, &[1 << 30, 1 << 20]);
    let err = payload(&huge).expect_err("too large");
    assert!(err.contains("its dimensions multiply to more than 2^40"), "{err}");
    let empty_but_huge = tensor("w", DataType::Float, &[0, 1 << 62, 4]);
    assert!(payload(&empty_but_huge).is_err(), "a zero dim does not excuse the others");
    let overflow = tensor("w", DataType::Float, &[i64::MAX, i64::MAX]);
    assert!(payload(&overflow).is_err());
    let empty = tensor("e", DataType::Float, &[0, 3]);
    let p = payload(&empty).expect("zero elements need no data");
    assert!(p.data.is_empty());
    assert_eq!(payload_to_tensor(&p).data, TensorData::F32(vec![]));
    let scalar = TensorProto { float_data: vec![2.0], ..tensor("s", DataType::Float, &[]) };
    assert_eq!(payload(&scalar).map(|p| p.shape), Ok(vec![]));
}

#[test]
fn data_errors_name_the_tensor() {
    let short = TensorProto { raw_data: Bytes::from_static(&[0; 6]), ..tensor("w", DataType::Float, &[2]) };
    assert_eq!(
        payload(&short),
        Err("tensor 'w' of type FLOAT and shape [2] needs 8 bytes of data, found 6".to_string())
    );
    let missing = tensor("w", DataType::Int64, &[2]);
    let err = payload(&missing).expect_err("no data");
    assert!(err.contains("tensor 'w' of type INT64 and shape [2] has no data"), "{err}");
    let count = TensorProto { float_data: vec![1.0; 3], ..tensor("w", DataType::Float, &[2]) };
    assert_eq!(payload(&count), Err("tensor 'w' has 3 values in float_data, but its shape [2] holds 2".to_string()));
    let range = TensorProto { int32_data: vec![1, 300], ..tensor("w", DataType::Int8, &[2]) };
    assert_eq!(payload(&range), Err("tensor 'w' holds 300, which is out of range for INT8".to_string()));
    let u32_range = TensorProto { uint64_data: vec![1 << 33], ..tensor("w", DataType::Uint32, &[1]) };
    assert!(payload(&u32_range).expect_err("u32").contains("out of range for UINT32"));
    let bits = TensorProto { int32_data: vec![70000], ..tensor("h", DataType::Float16, &[1]) };
    assert!(payload(&bits).expect_err("f16").contains("not a 16-bit pattern"));
    let string = TensorProto { string_data: vec![Bytes::from_static(b"a")], ..tensor("s", DataType::String, &[1]) };
    assert_eq!(payload(&string), Err("tensor 's': data type STRING is not supported by weft".to_string()));
    let unnamed = TensorProto { name: String::new(), ..tensor("", DataType::Complex64, &[1]) };
    assert_eq!(payload(&unnamed), Err("an unnamed tensor: data type COMPLEX64 is not supported by weft".to_string()));
    let segmented = TensorProto {
        segment: Some(crate::onnx::proto::tensor_proto::Segment { begin: 0, end: 1 }),
        float_data: vec![1.0],
        ..tensor("w", DataType::Float, &[1])
    };
    assert!(payload(&segmented).expect_err("segment").contains("segmented"));
}

fn external(name: &str, dt: DataType, dims: &[i64], entries: &[(&str, &str)]) -> TensorProto {
    let external_data =
        entries.iter().map(|(k, v)| StringStringEntryProto { key: k.to_string(), value: v.to_string() }).collect();
    TensorProto { external_data, data_location: DataLocation::External as i32, ..tensor(name, dt, dims) }
}

#[test]
fn external_data_is_mapped_from_the_model_directory() {
    let dir = temp_dir("external");
    let mut bytes = vec![0xaau8; 5]; // padding before the data
    bytes.extend([1.0f32, 2.0, 3.0].iter().flat_map(|v| v.to_le_bytes()));
    bytes.extend([7i64].iter().flat_map(|v| v.to_le_bytes()));
    std::fs::create_dir_all(dir.join("data")).expect("mkdir");
    std::fs::write(dir.join("data/weights.bin"), &bytes).expect("write");
    let w =
        external("w", DataType::Float, &[3], &[("location", "data/weights.bin"), ("offset", "5"), ("length", "12")]);
    let p = tensor_payload_in(&dir, &w).expect("external");
    assert_eq!(payload_to_tensor(&p).data, TensorData::F32(vec![1.0, 2.0, 3.0]));
    // Without a length, the tensor's own size is read.
    let b = external("b", DataType::Int64, &[1], &[("location", "./data/weights.bin"), ("offset", "17")]);
    assert_eq!(tensor_payload_in(&dir, &b).map(|p| payload_to_tensor(&p).data), Ok(TensorData::Int(vec![7])));

    let err = |t: &TensorProto| tensor_payload_in(&dir, t).expect_err("error");
    let past = external("w", DataType::Float, &[3], &[("location", "data/weights.bin"), ("offset", "20")]);
    assert!(err(&past).contains("runs past the end"), "{}", err(&past));
    let length = external("w", DataType::Float, &[3], &[("location", "data/weights.bin"), ("length", "8")]);
    assert!(err(&length).contains("needs 12 bytes of data, found 8"), "{}", err(&length));
    let missing = external("w", DataType::Float, &[3], &[("location", "nope.bin")]);
    assert!(err(&missing).starts_with("tensor 'w': cannot open its external data file"), "{}", err(&missing));
    let no_location = external("w", DataType::Float, &[3], &[("offset", "0")]);
    assert!(err(&no_location).contains("has no 'location'"));
    let bad_offset = external("w", DataType::Float, &[3], &[("location", "data/weights.bin"), ("offset", "x")]);
    assert!(err(&bad_offset).contains("offset 'x' is not a byte count"));
    for escape in ["/etc/passwd", "../weights.bin", "data/../../weights.bin"] {
        let t = external("w", DataType::Float, &[3], &[("location", escape)]);
        assert!(err(&t).contains("must be a relative path inside the model's directory"), "{escape}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn storage_matches_weft_resources() {
    // Every payload is a valid resource of its element type.
    let cases = [
        (DataType::Float16, 2),
        (DataType::Bfloat16, 2),
        (DataType::Bool, 1),
        (DataType::Int4, 1),
        (DataType::Uint32, 4),
        (DataType::Double, 8),
    ];
    for (dt, size) in cases {
        let elem = onnx_elem_type(dt as i32).expect("supported");
        let bytes = vec![0u8; 3 * size];
        assert!(weft_ir::resources::Resource::new(elem, vec![3], bytes).is_ok(), "{dt:?}");
    }
}
