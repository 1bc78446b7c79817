//! Tests of resources: construction checks, encoding and decoding, and
//! the safetensors files (round trips, zero-copy reading, streamed writing
//! identical to safetensors' own serializer, corrupt files).

use super::*;
use crate::types::{QuantInt, QuantParams};
use std::io::Write;

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weft-resources-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn f32_resource(values: &[f32], shape: &[u64]) -> Resource {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    Resource::new(ElemType::F32, shape.to_vec(), bytes).expect("valid resource")
}

fn sample() -> Resources {
    let mut r = Resources::new();
    r.insert("w.f32", f32_resource(&[1.0, -2.5, 3.0, 0.0, 5.0, 6.0], &[2, 3]));
    let i8s = Tensor { elem: ElemType::I8, shape: vec![3], data: TensorData::Int(vec![-128, 0, 127]) };
    r.insert("b.i8", Resource::from_tensor(&i8s).expect("i8 fits"));
    let u16s = Tensor {
        elem: ElemType::Int { width: 16, signed: false },
        shape: vec![2],
        data: TensorData::Int(vec![0, 65535]),
    };
    r.insert("c.u16", Resource::from_tensor(&u16s).expect("u16 fits"));
    let bools = Tensor { elem: ElemType::Bool, shape: vec![2], data: TensorData::Int(vec![1, 0]) };
    r.insert("mask", Resource::from_tensor(&bools).expect("bools"));
    let halfs = Tensor { elem: ElemType::F16, shape: vec![], data: TensorData::F16(vec![f16::from_f32(0.5)]) };
    r.insert("scalar.f16", Resource::from_tensor(&halfs).expect("f16"));
    r
}

#[test]
fn sidecar_replaces_extension() {
    assert_eq!(sidecar_path(Path::new("dir/model.weft")), PathBuf::from("dir/model.safetensors"));
    assert_eq!(sidecar_path(Path::new("model")), PathBuf::from("model.safetensors"));
    assert_eq!(sidecar_path(Path::new("a.b.weft")), PathBuf::from("a.b.safetensors"));
}

#[test]
fn save_load_round_trip() {
    let dir = temp_dir("round-trip");
    let path = dir.join("model.safetensors");
    let r = sample();
    r.save(&path).expect("save");
    let back = Resources::load(&path).expect("load");
    assert_eq!(back, r);
    assert_eq!(back.names().collect::<Vec<_>>(), ["b.i8", "c.u16", "mask", "scalar.f16", "w.f32"]);
    let t = back.tensor("w.f32").expect("present");
    assert_eq!(t.shape, vec![2, 3]);
    assert_eq!(t.data, TensorData::F32(vec![1.0, -2.5, 3.0, 0.0, 5.0, 6.0]));
    assert_eq!(back.tensor("b.i8").map(|t| t.data), Some(TensorData::Int(vec![-128, 0, 127])));
    assert_eq!(back.tensor("c.u16").map(|t| t.data), Some(TensorData::Int(vec![0, 65535])));
    assert_eq!(back.tensor("mask").map(|t| t.data), Some(TensorData::Int(vec![1, 0])));
    assert_eq!(back.tensor("scalar.f16").map(|t| t.data), Some(TensorData::F16(vec![f16::from_f32(0.5)])));
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn saved_bytes_are_deterministic() {
    let a = sample().to_bytes().expect("encode");
    // Insert in the reverse order: same bytes.
    let mut r = Resources::new();
    let s = sample();
    for (name, res) in s.iter().collect::<Vec<_>>().into_iter().rev() {
        r.insert(name, res.clone());
    }
    assert_eq!(r.to_bytes().expect("encode"), a);
}

#[test]
fn corrupt_files_are_errors() {
    let dir = temp_dir("corrupt");
    let path = dir.join("bad.safetensors");
    std::fs::write(&path, b"\x05\x00\x00\x00\x00\x00\x00\x00{\"a\":").expect("write");
    let err = Resources::load(&path).expect_err("corrupt");
    assert!(err.contains("bad.safetensors") && err.contains("not a valid safetensors file"), "{err}");
    // Truncated data: the header promises 16 bytes, 4 are there.
    let mut bytes = sample().to_bytes().expect("encode");
    bytes.truncate(bytes.len() - 3);
    assert!(Resources::from_bytes(bytes.clone()).is_err());
    assert!(Resources::from_bytes(Vec::new()).is_err());
    let missing = Resources::load(&dir.join("missing.safetensors")).expect_err("missing");
    assert!(missing.starts_with("cannot read"), "{missing}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unsupported_dtype_names_tensor_and_dtype() {
    let header = br#"{"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&[0; 8]);
    let err = Resources::from_bytes(bytes.clone()).expect_err("C64 unsupported");
    assert!(err.contains("tensor 'w' has dtype C64"), "{err}");
}

#[test]
fn narrow_types_use_containers() {
    let q = ElemType::Quant(Box::new(QuantInt {
        width: 4,
        signed: true,
        params: QuantParams::PerTensor { scale: 0.5, zp: 0 },
    }));
    assert_eq!(storage_dtype(&q), Dtype::I8);
    assert_eq!(storage_dtype(&ElemType::Int { width: 12, signed: false }), Dtype::U16);
    assert_eq!(storage_dtype(&ElemType::Int { width: 33, signed: true }), Dtype::I64);
    let file = Resource::new(ElemType::I8, vec![2], vec![1, 0xff]).expect("i8");
    assert!(file.fits(&TensorType::fixed(&[2], q.clone())));
    assert!(!file.fits(&TensorType::fixed(&[2], ElemType::F32)));
    assert!(!file.fits(&TensorType::fixed(&[1, 2], q)));
    assert!(!file.fits(&TensorType::new(vec![Dim::Dyn], ElemType::I8)));
}

#[test]
fn constructors_check_sizes_and_ranges() {
    assert!(Resource::new(ElemType::F32, vec![2, 2], vec![0; 15]).is_err());
    assert!(Resource::new(ElemType::F32, vec![u64::MAX, 4], vec![]).is_err());
    let too_big = Tensor { elem: ElemType::I8, shape: vec![1], data: TensorData::Int(vec![200]) };
    let err = Resource::from_tensor(&too_big).expect_err("out of range");
    assert!(err.contains("200"), "{err}");
    let splat = Tensor { elem: ElemType::F32, shape: vec![4], data: TensorData::F32(vec![1.0]) };
    assert!(Resource::from_tensor(&splat).is_err());
    let u64s =
        Tensor { elem: ElemType::Int { width: 64, signed: false }, shape: vec![1], data: TensorData::Int(vec![-1]) };
    let r = Resource::from_tensor(&u64s).expect("bit pattern");
    assert_eq!(r.bytes(), &[0xff; 8]);
    assert_eq!(r.to_tensor().data, TensorData::Int(vec![-1]));
}

/// Names that need JSON escaping, and one tensor of every stored dtype.
fn every_dtype() -> Resources {
    let mut r = sample();
    let int = |width, signed, values: Vec<i64>| {
        let elem = ElemType::Int { width, signed };
        let shape = vec![values.len() as u64];
        Resource::from_tensor(&Tensor { elem, shape, data: TensorData::Int(values) }).expect("fits")
    };
    r.insert("i16", int(16, true, vec![-300, 7]));
    r.insert("i32", int(32, true, vec![-70000]));
    r.insert("u32", int(32, false, vec![70000, 1]));
    r.insert("i64 \"quoted\" \\ back", int(64, true, vec![i64::MIN, 3]));
    r.insert("u64\n\t\r\u{8}\u{c}\u{1}\u{7f}é", int(64, false, vec![5]));
    r.insert("u8", int(8, false, vec![255, 0, 1]));
    let bf = Tensor { elem: ElemType::BF16, shape: vec![2], data: TensorData::BF16(vec![bf16::ONE, bf16::ZERO]) };
    r.insert("bf16", Resource::from_tensor(&bf).expect("bf16"));
    let f64s = Tensor { elem: ElemType::F64, shape: vec![1, 1], data: TensorData::F64(vec![0.25]) };
    r.insert("f64", Resource::from_tensor(&f64s).expect("f64"));
    r.insert("empty", Resource::new(ElemType::F32, vec![0, 3], Vec::new()).expect("no elements"));
    r
}

#[test]
fn streamed_file_is_byte_identical_to_safetensors_serialize() {
    use safetensors::tensor::TensorView;
    let r = every_dtype();
    let views = r.iter().map(|(name, res)| {
        let shape = res.shape().iter().map(|&d| d as usize).collect();
        (name, TensorView::new(storage_dtype(res.elem()), shape, res.bytes()).expect("valid view"))
    });
    let reference = safetensors::serialize(views, None).expect("serialize");
    assert_eq!(r.to_bytes().expect("encode"), reference);
    assert_eq!(Resources::from_bytes(reference).expect("decode"), r);
}

#[test]
fn saved_file_is_what_to_bytes_gives() {
    let dir = temp_dir("streamed");
    let path = dir.join("m.safetensors");
    let r = every_dtype();
    r.save(&path).expect("save");
    assert_eq!(std::fs::read(&path).expect("read"), r.to_bytes().expect("encode"));
    // Saving over the file the resources were loaded from (and are mapped
    // from) is safe: the new file is renamed over the old one.
    let loaded = Resources::load(&path).expect("load");
    loaded.save(&path).expect("save over itself");
    assert_eq!(loaded, r);
    assert_eq!(Resources::load(&path).expect("reload"), r);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn loading_shares_the_buffer() {
    let bytes = Bytes::from(every_dtype().to_bytes().expect("encode"));
    let range = bytes.as_ptr_range();
    let r = Resources::from_bytes(bytes.clone()).expect("decode");
    for (name, res) in r.iter().filter(|(_, res)| !res.bytes().is_empty()) {
        let inside = range.contains(&res.bytes().as_ptr()) && res.bytes().as_ptr_range().end <= range.end;
        assert!(inside, "resource '{name}' was copied out of the file's buffer");
    }
    // A resource made from a payload keeps that payload.
    let payload = Bytes::from(vec![0u8; 8]);
    let res = Resource::new(ElemType::F32, vec![2], payload.clone()).expect("8 bytes");
    assert_eq!(res.shared_bytes().as_ptr(), payload.as_ptr());
}

#[test]
fn write_errors_are_reported() {
    let dir = temp_dir("write-errors");
    let err = sample().save(&dir.join("missing-dir").join("m.safetensors")).expect_err("no such directory");
    assert!(err.starts_with("cannot write") && err.contains("m.safetensors"), "{err}");
    assert!(Resources::load(&dir).expect_err("a directory").contains("is a directory"));
    let empty = dir.join("empty.safetensors");
    std::fs::write(&empty, b"").expect("write");
    let err = Resources::load(&empty).expect_err("empty");
    assert!(err.contains("not a valid safetensors file"), "{err}");
    /// A writer that fails after `left` bytes.
    struct Full(usize);
    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("disk full"));
            }
            let n = buf.len().min(self.0);
            self.0 -= n;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let err = sample().write_to(&mut Full(20)).expect_err("full");
    assert!(err.contains("disk full"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn header_offsets_are_validated() {
    // data_offsets past the end, overlapping, and not matching the shape.
    for entry in [
        r#""w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}"#,
        r#""w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}"#,
        r#""a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}"#,
    ] {
        let header = format!("{{{entry}}}");
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&[0; 8]);
        let err = Resources::from_bytes(bytes).expect_err(entry);
        assert!(err.contains("not a valid safetensors file"), "{entry}: {err}");
    }
}

#[test]
fn large_mapped_tensors_are_copied_file_to_file_exactly() {
    let dir = temp_dir("file-copy");
    let mut r = every_dtype();
    // Large enough for the file-to-file copy, and not a multiple of a page.
    let big: Vec<f32> = (0..40_000).map(|i| i as f32 * 0.5).collect();
    r.insert("big.a", f32_resource(&big, &[200, 200]));
    r.insert("big.b", f32_resource(&big[..30_001], &[30_001]));
    let first = dir.join("first.safetensors");
    r.save(&first).expect("save");
    let loaded = Resources::load(&first).expect("load");
    assert!(mapped::origin(loaded.get("big.a").expect("present").bytes()).is_some(), "loaded from a map");
    let second = dir.join("second.safetensors");
    loaded.save(&second).expect("save a copy");
    let expected = r.to_bytes().expect("encode");
    assert_eq!(std::fs::read(&second).expect("read"), expected);
    // Over the very file the data is mapped from.
    loaded.save(&first).expect("save over itself");
    assert_eq!(std::fs::read(&first).expect("read"), expected);
    assert_eq!(loaded, r);
    let _ = std::fs::remove_dir_all(&dir);
}
