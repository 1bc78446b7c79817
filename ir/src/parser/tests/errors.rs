//! One test per error class: the message, and the text the primary span
//! (and, where there is one, the note) points at.

use super::*;

fn err(text: &str) -> (String, String) {
    parse_error(text)
}

fn pair(message: &str, span: &str) -> (String, String) {
    (message.to_string(), span.to_string())
}

#[test]
fn load_source_rejects_non_utf8() {
    let mut sources = SourceMap::new();
    let d = load_source(&mut sources, "bad.weft", b"module {\n  \xff\n}".to_vec()).expect_err("not UTF-8");
    assert_eq!(d.message, "bad.weft:2:3: the file is not valid UTF-8: invalid byte 0xFF at byte offset 11");
    assert!(sources.text(FileId(0)).is_none(), "the file must not be added");
    let id = load_source(&mut sources, "ok.weft", "module {\n}\n".into()).expect("UTF-8");
    assert_eq!(sources.text(id), Some("module {\n}\n"));
}

#[test]
fn lexical_errors_are_located() {
    assert_eq!(
        err(&in_func("  %0 = test.attrs {s = \"abc} : () -> ()")),
        pair("unterminated string (strings cannot span lines; write \\n)", "\"abc} : () -> ()")
    );
    assert_eq!(err("func @f() {\n  $\n}"), pair("unexpected character '$'", "$"));
    assert_eq!(err("func @f() { %0 = test.attrs {i = 9223372036854775808} : () -> () }").1, "9223372036854775808");
}

#[test]
fn syntax_errors_say_what_was_expected() {
    assert_eq!(
        err(&in_func("  %0 = nn.add %a, %a tensor<4xf32>")),
        pair("expected '{', ',', ':' or '#', found keyword 'tensor'", "tensor")
    );
    assert_eq!(err("func @f(%a tensor<4xf32>) {}"), pair("expected ':', found keyword 'tensor'", "tensor"));
    assert_eq!(
        err(&in_func("  %0 = test.attrs {a = } : () -> ()")),
        pair("expected an attribute value, found '}'", "}")
    );
    assert_eq!(err("func @f(%a: tensor<4x>) {}"), pair("expected a dimension or an element type, found '>'", ">"));
    assert_eq!(err("func f() {}"), pair("expected a symbol, found 'f'", "f"));
}

#[test]
fn unexpected_end_of_input() {
    let text = "module {\n  func @f() {\n    return\n";
    let (message, span) = err(text);
    assert_eq!(message, "expected '}', an op or 'loc', found the end of the input");
    assert_eq!(span, "");
}

#[test]
fn text_after_the_module() {
    assert_eq!(err("module {\n} extra"), pair("unexpected 'extra' after the end of the module", "extra"));
}

#[test]
fn bad_types() {
    let (message, span) = err("func @f(%a: tensor<4xf23>) {}");
    assert_eq!((message.as_str(), span.as_str()), ("unknown type 'f23'", "f23"));
    assert_eq!(parse_error_notes("func @f(%a: tensor<4xf23>) {}"), ["did you mean 'f16', 'f32', 'f64'?"]);
    assert_eq!(err("func @f(%a: i65) {}"), pair("invalid integer type 'i65': the width must be 1 to 64", "i65"));
    assert_eq!(
        err("func @f(%a: tensor<99999999999x99999999999xf32>) {}"),
        pair("tensor type has too many elements (more than 2^63 - 1)", "tensor<99999999999x99999999999xf32>")
    );
    assert_eq!(err("func @f(%a: tensor<4x!quant.foo<w=3>>) {}").0, "unknown dialect type '!quant.foo'");
}

#[test]
fn bad_quantization_parameters() {
    let q = |params: &str| err(&format!("func @f(%a: tensor<4x!quant.int<{params}>>) {{}}"));
    assert_eq!(q("w=33, signed, scale=0.5, zp=0"), pair("quantized width 'w' must be 1 to 32", "w=33"));
    assert_eq!(q("w=0, signed, scale=0.5, zp=0").1, "w=0");
    assert_eq!(
        q("w=3, signed, axis=0, scales=[0.5], zps=[1, 2]"),
        pair("'zps' has 2 values but 'scales' has 1; they must match", "zps=[1, 2]")
    );
    assert_eq!(q("w=3, signed, scale=-0.5, zp=0"), pair("scale -0.5 must be positive and finite", "scale=-0.5"));
    assert_eq!(q("w=3, signed, scale=inf, zp=0").0, "scale inf must be positive and finite");
    assert_eq!(q("w=3, signed, axis=0, scales=[0.5, 0.0], zps=[0, 0]").0, "scale 0 must be positive and finite");
    assert_eq!(q("w=3, scale=0.5, zp=0").0, "!quant.int needs 'signed' or 'unsigned'");
    assert_eq!(q("w=3, signed, zp=0").0, "missing parameter 'scale'");
    assert_eq!(q("w=3, w=4, signed, scale=1.0, zp=0"), pair("parameter 'w' is given twice", "w=4"));
    assert_eq!(q("w=3, signed, scale=1.0, zp=0.5"), pair("'zp' must be an integer", "zp=0.5"));
    assert_eq!(
        err("func @f(%a: tensor<4x!quant.bin<scale=0.5, zp=1>>) {}"),
        pair("unexpected parameter 'zp' for !quant.bin", "zp=1")
    );
}

#[test]
fn unknown_op_suggests_names() {
    let text = in_func("  %0 = nn.ad %a, %a : tensor<4xf32>");
    assert_eq!(err(&text), pair("unknown op 'nn.ad'", "nn.ad"));
    assert_eq!(parse_error_notes(&text), ["did you mean 'nn.add', 'nn.and'?"]);
    assert_eq!(err(&in_func("  \"nn.bogus\"() : () -> ()")), pair("unknown op 'nn.bogus'", "\"nn.bogus\""));
}

#[test]
fn undefined_value() {
    let text = in_func("  %0 = nn.add %a, %b : tensor<4xf32>");
    assert_eq!(err(&text), pair("use of undefined value '%b'", "%b"));
    // A one-letter name shares nothing with another: no suggestion.
    assert!(parse_error_notes(&text).is_empty());
    let typo = in_func("  %sum = nn.add %a, %a : tensor<4xf32>\n  %1 = nn.relu %sun : tensor<4xf32>");
    assert_eq!(parse_error_notes(&typo), ["did you mean '%sum'?"]);
}

#[test]
fn use_before_definition() {
    let text = in_func("  %0 = nn.add %a, %1 : tensor<4xf32>\n  %1 = nn.relu %a : tensor<4xf32>");
    assert_eq!(err(&text), pair("'%1' is used before its definition", "%1"));
    assert_eq!(parse_error_notes(&text), ["defined here: %1"]);
    // An op cannot use its own result, not even inside its regions.
    let own = in_func("  %0 = nn.add %a, %0 : tensor<4xf32>");
    assert_eq!(err(&own), pair("'%0' is used before its definition", "%0"));
    let region =
        in_func("  %0 = \"test.loop\"() ({\n  ^bb0():\n    test.yield %0 : tensor<4xf32>\n  }) : () -> tensor<4xf32>");
    assert_eq!(err(&region).0, "'%0' is used before its definition");
}

#[test]
fn redefinition() {
    let text = in_func("  %x = nn.relu %a : tensor<4xf32>\n  %x = nn.relu %a : tensor<4xf32>");
    let errors = parse_errors(&text);
    assert_eq!(errors, [pair("redefinition of '%x'", "%x")]);
    assert!(parse_error_notes(&text)[0].starts_with("previous definition here: %x"));
    let arg = in_func("  %a = nn.relu %a : tensor<4xf32>");
    assert_eq!(parse_error_notes(&arg), ["previous definition here: %a"]);
    let funcs = "func @f() {\n  return\n}\nfunc @f() {\n  return\n}";
    assert_eq!(err(funcs), pair("redefinition of function '@f'", "@f"));
}

#[test]
fn result_index_out_of_range() {
    let text = in_func("  %s:2 = test.split %a : tensor<4xf32>\n  %0 = nn.relu %s#2 : tensor<4xf32>");
    assert_eq!(err(&text), pair("result index 2 is out of range: '%s' names 2 results", "%s#2"));
    assert_eq!(parse_error_notes(&text), ["defined here: %s:2"]);
}

#[test]
fn bare_use_of_several_results() {
    let text = in_func("  %s:2 = test.split %a : tensor<4xf32>\n  %0 = nn.relu %s : tensor<4xf32>");
    assert_eq!(err(&text), pair("'%s' names 2 results; pick one with '%s#0' to '%s#1'", "%s"));
}

#[test]
fn region_names_are_scoped() {
    let text = in_func(
        "  %0 = \"test.loop\"() ({\n  ^bb0(%x: tensor<4xf32>):\n    test.yield : () -> ()\n  }) : () -> tensor<4xf32>\n  %1 = nn.relu %x : tensor<4xf32>",
    );
    assert_eq!(err(&text), pair("'%x' is not visible here: it is defined inside a region", "%x"));
    assert_eq!(parse_error_notes(&text), ["defined here: %x"]);
}

#[test]
fn signature_arity_mismatch() {
    let operands = in_func("  %0 = nn.add %a, %a : (tensor<4xf32>) -> tensor<4xf32>");
    assert_eq!(
        err(&operands),
        pair("the signature has 1 operand type but the op has 2 operands", "(tensor<4xf32>) -> tensor<4xf32>")
    );
    let results = in_func("  %0 = nn.add %a, %a : (tensor<4xf32>, tensor<4xf32>) -> ()");
    assert_eq!(err(&results).0, "the signature has 0 result types but the op has 1 result");
    let ret = in_func("  return %a, %a : tensor<4xf32>");
    assert_eq!(err(&ret), pair("the signature has 1 operand type but the op has 2 operands", "tensor<4xf32>"));
}

#[test]
fn operand_type_mismatch() {
    let text = in_func("  %0 = nn.add %a, %a : (tensor<4xf32>, tensor<4xi32>) -> tensor<4xf32>");
    assert_eq!(err(&text), pair("operand #1 has type 'tensor<4xf32>' but the signature says 'tensor<4xi32>'", "%a"));
    let uniform = in_func("  %0 = nn.relu %a : tensor<8xf32>");
    assert_eq!(err(&uniform).0, "operand #0 has type 'tensor<4xf32>' but the signature says 'tensor<8xf32>'");
    let ret = in_func("  return %a : tensor<4xi8>");
    assert_eq!(err(&ret).0, "operand #0 has type 'tensor<4xf32>' but the signature says 'tensor<4xi8>'");
}

#[test]
fn misused_builtin_forms() {
    assert_eq!(err(&in_func("  %0 = return %a : tensor<4xf32>")), pair("'return' has no results", "%0"));
    assert_eq!(
        err(&in_func("  %0 = constant 3")),
        pair("'constant' needs a dense<...> or dense_resource<...> value, found an integer", "3")
    );
}

#[test]
fn dense_literal_errors() {
    let c = |literal: &str, ty: &str| err(&format!("func @f() {{\n  %0 = constant dense<{literal}> : {ty}\n}}"));
    assert_eq!(
        c("[1.0, 2.0]", "tensor<3xf32>"),
        pair("expected 3 elements (dimension 0 of 'tensor<3xf32>'), found 2", "[1.0, 2.0]")
    );
    assert_eq!(
        c("[1.0, 2.0]", "tensor<2x1xf32>"),
        pair("expected a list of 1 element (dimension 1 of 'tensor<2x1xf32>'), found a single element", "1.0")
    );
    assert_eq!(
        c("[[1.0], [2.0]]", "tensor<2xf32>"),
        pair("expected a single element here ('tensor<2xf32>' has rank 1), found a list", "[1.0]")
    );
    assert_eq!(c("[1.0]", "tensor<f32>").0, "expected a single element here ('tensor<f32>' has rank 0), found a list");
    assert_eq!(c("[1, 2.5]", "tensor<2xi32>"), pair("a float literal in a tensor of i32", "2.5"));
    assert_eq!(c("[1, true]", "tensor<2xf32>"), pair("a bool literal in a tensor of f32", "true"));
    assert_eq!(c("[1, 0]", "tensor<2xbool>"), pair("expected 'true' or 'false' in a tensor of bool", "1"));
    assert_eq!(c("[1, 300]", "tensor<2xi8>"), pair("300 is out of range for i8 (-128 to 127)", "300"));
    assert_eq!(c("-1", "tensor<2xu8>").0, "-1 is out of range for u8 (0 to 255)");
    assert_eq!(c("8", "tensor<2x!quant.int<w=4, signed, scale=1.0, zp=0>>").1, "8");
    assert_eq!(c("2", "tensor<2x!quant.bin<scale=1.0>>").0, "2 is out of range for !quant.bin<scale=1.0> (0 to 1)");
}

#[test]
fn dense_types_must_be_static_and_small() {
    let c = |literal: &str, ty: &str| err(&format!("func @f() {{\n  %0 = constant dense<{literal}> : {ty}\n}}"));
    assert_eq!(
        c("[1]", "tensor<100000x100000xf32>"),
        pair(
            "a dense literal of 10000000000 elements is larger than the limit of 67108864; keep the data in a \
             resource (dense_resource)",
            "[1]"
        )
    );
    // A splat of a huge tensor is fine: nothing is materialized.
    parse_ok("func @f() {\n  %0 = constant dense<1.0> : tensor<100000x100000xf32>\n  return\n}");
    assert_eq!(
        c("1.0", "tensor<[n]xf32>"),
        pair("dense needs a static shape, but dimension 0 of 'tensor<[n]xf32>' is symbolic ('[n]')", "tensor<[n]xf32>")
    );
    assert_eq!(
        c("1.0", "tensor<2x?xf32>").0,
        "dense needs a static shape, but dimension 1 of 'tensor<2x?xf32>' is dynamic ('?')"
    );
    assert_eq!(c("1.0", "f32"), pair("dense needs a tensor type, found 'f32'", "f32"));
    let resource = "func @f() {\n  %0 = constant dense_resource<w> : tensor<?xf32>\n}";
    assert!(err(resource).0.starts_with("dense_resource needs a static shape"));
}

#[test]
fn duplicate_attribute() {
    let text = in_func("  test.attrs {x = 1, y, x = 2} : () -> ()");
    assert_eq!(err(&text), pair("duplicate attribute 'x'", "x = 2"));
    assert_eq!(parse_error_notes(&text), ["first given here: x = 1"]);
}

#[test]
fn bad_result_groups_and_indices() {
    assert_eq!(
        err(&in_func("  %0:0 = test.attrs : () -> ()")),
        pair("a result group must name at least one result", "%0:0")
    );
    assert_eq!(
        err(&in_func("  %0 = nn.relu %a#-1 : tensor<4xf32>")),
        pair("a result index must be between 0 and 4294967295", "-1")
    );
}

#[test]
fn all_resolution_errors_are_reported_in_order() {
    let text = in_func(
        "  %0 = nn.relu %b : tensor<4xf32>\n  %1 = nn.bogus %a : tensor<4xf32>\n  %2 = nn.relu %c : tensor<4xf32>",
    );
    let messages: Vec<String> = parse_errors(&text).into_iter().map(|(m, _)| m).collect();
    assert_eq!(messages, ["use of undefined value '%b'", "unknown op 'nn.bogus'", "use of undefined value '%c'"]);
    // The results of a broken op are not reported again where they are used.
    let cascade = in_func("  %0 = nn.bogus %a : tensor<4xf32>\n  %1 = nn.relu %0 : tensor<4xf32>");
    assert_eq!(parse_errors(&cascade).len(), 1);
}
