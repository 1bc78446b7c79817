//! Tests of the lexer: token kinds, the two modes, spans, and every lexical
//! error.

use super::*;

fn toks(src: &str) -> Vec<Tok<'_>> {
    Lexer::new(src).map(|r| r.map(|(_, t, _)| t)).collect::<Result<_, _>>().unwrap_or_else(|e| panic!("{e:?}"))
}

/// The first error's message and the text its span covers.
fn lex_error(src: &str) -> (String, &str) {
    let e = Lexer::new(src).find_map(Result::err).unwrap_or_else(|| panic!("no error lexing {src:?}"));
    (e.message, &src[e.span.0..e.span.1])
}

#[test]
fn sigils_and_names() {
    assert_eq!(
        toks("%arg0 %x.1 @main @\"a b\" ^bb0 !quant.int nn.add"),
        vec![
            Tok::ValueName("arg0"),
            Tok::ValueName("x.1"),
            Tok::Symbol(Cow::Borrowed("main")),
            Tok::Symbol(Cow::Borrowed("a b")),
            Tok::BlockLabel("bb0"),
            Tok::DialectType("quant.int"),
            Tok::Ident("nn.add"),
        ]
    );
}

#[test]
fn keywords_and_punctuation() {
    assert_eq!(
        toks("module func return constant true ( ) { } [ ] < > , : = -> # *"),
        vec![
            Tok::Module,
            Tok::Func,
            Tok::Return,
            Tok::Constant,
            Tok::True,
            Tok::LParen,
            Tok::RParen,
            Tok::LBrace,
            Tok::RBrace,
            Tok::LBracket,
            Tok::RBracket,
            Tok::Less,
            Tok::Greater,
            Tok::Comma,
            Tok::Colon,
            Tok::Equals,
            Tok::Arrow,
            Tok::Hash,
            Tok::Star,
        ]
    );
    // `>>` is two tokens.
    assert_eq!(toks(">>"), vec![Tok::Greater, Tok::Greater]);
}

#[test]
fn numbers() {
    assert_eq!(
        toks("0 -12 0x1F -0x10 9223372036854775807 -9223372036854775808"),
        vec![Tok::Int(0), Tok::Int(-12), Tok::Int(31), Tok::Int(-16), Tok::Int(i64::MAX), Tok::Int(i64::MIN)]
    );
    assert_eq!(
        toks("1.5 -0.25 1e-5 2E3 1. 3.0e+2"),
        vec![
            Tok::Float(1.5),
            Tok::Float(-0.25),
            Tok::Float(1e-5),
            Tok::Float(2000.0),
            Tok::Float(1.0),
            Tok::Float(300.0)
        ]
    );
    assert_eq!(toks("inf -inf nan"), vec![Tok::Inf, Tok::Float(f64::NEG_INFINITY), Tok::Nan]);
    // `info` is a name, not `inf` followed by `o`.
    assert_eq!(toks("info"), vec![Tok::Ident("info")]);
}

#[test]
fn strings_and_escapes() {
    assert_eq!(toks(r#""plain""#), vec![Tok::Str(Cow::Borrowed("plain"))]);
    let escaped = toks(r#""a\"b\\c\nd\te\41\C3\A9""#);
    assert_eq!(escaped, vec![Tok::Str(Cow::Owned("a\"b\\c\nd\teAé".to_string()))]);
    assert_eq!(toks("\"\""), vec![Tok::Str(Cow::Borrowed(""))]);
}

#[test]
fn comments_are_skipped() {
    assert_eq!(toks("// RUN: weft\n%0 // trailing\n// last"), vec![Tok::ValueName("0")]);
}

#[test]
fn shape_mode() {
    assert_eq!(
        toks("tensor<1x[batch size]x?xf32>"),
        vec![
            Tok::Tensor,
            Tok::Less,
            Tok::StaticDim(1),
            Tok::SymDim("batch size"),
            Tok::DynDim,
            Tok::Ident("f32"),
            Tok::Greater,
        ]
    );
    assert_eq!(toks("tensor<f32>"), vec![Tok::Tensor, Tok::Less, Tok::Ident("f32"), Tok::Greater]);
    // The mode ends at the element type: `4x` later is not a dimension.
    let t = toks("tensor<2x!quant.bin<scale=0.5>>");
    assert_eq!(t[2], Tok::StaticDim(2));
    assert_eq!(t[3], Tok::DialectType("quant.bin"));
    assert_eq!(t[t.len() - 2..], [Tok::Greater, Tok::Greater]);
}

#[test]
fn resource_mode() {
    assert_eq!(
        toks("dense_resource<blocks.0/w:1-2> dense_resource<\"a b>\">"),
        vec![
            Tok::DenseResource,
            Tok::Less,
            Tok::ResourceName(Cow::Borrowed("blocks.0/w:1-2")),
            Tok::Greater,
            Tok::DenseResource,
            Tok::Less,
            Tok::ResourceName(Cow::Borrowed("a b>")),
            Tok::Greater,
        ]
    );
}

#[test]
fn spans_are_byte_ranges() {
    let src = "  %x = \"é\"";
    let spans: Vec<(usize, usize)> =
        Lexer::new(src).map(|r| r.map(|(l, _, r)| (l, r))).collect::<Result<_, _>>().unwrap();
    assert_eq!(spans, vec![(2, 4), (5, 6), (7, 11)]);
}

#[test]
fn string_errors() {
    assert_eq!(lex_error("\"abc"), ("unterminated string".to_string(), "\""));
    let (msg, text) = lex_error("\"ab\ncd\"");
    assert!(msg.starts_with("unterminated string (strings cannot span lines"), "{msg}");
    assert_eq!(text, "\"ab");
    let (msg, text) = lex_error(r#""a\qb""#);
    assert!(msg.starts_with("invalid escape"), "{msg}");
    assert_eq!(text, "\\q");
    assert_eq!(lex_error(r#""\4""#).1, "\\4");
    assert_eq!(
        lex_error(r#"x "\FF""#),
        ("string is not valid UTF-8 after its escapes are applied".to_string(), r#""\FF""#)
    );
}

#[test]
fn number_errors() {
    assert_eq!(
        lex_error("1 99999999999999999999"),
        ("integer literal does not fit in 64 bits (signed)".to_string(), "99999999999999999999")
    );
    assert_eq!(lex_error("0x8000000000000000").1, "0x8000000000000000");
    assert_eq!(lex_error("12abc"), ("invalid number '12abc'".to_string(), "12abc"));
    assert_eq!(lex_error("4xf32"), ("invalid number '4xf32'".to_string(), "4xf32"));
}

#[test]
fn stray_characters() {
    assert_eq!(lex_error("%0 $"), ("unexpected character '$'".to_string(), "$"));
    assert_eq!(lex_error("a \0"), ("unexpected character '\\0'".to_string(), "\0"));
    assert_eq!(lex_error("é"), ("unexpected character 'é'".to_string(), "é"));
    assert_eq!(lex_error("a / b").1, "/");
    assert_eq!(lex_error("- 1").1, "-");
    assert_eq!(lex_error("% x"), ("expected a value name after '%'".to_string(), "%"));
    assert_eq!(lex_error("@1").1, "@");
    assert_eq!(lex_error("!4bit"), ("expected a dialect type name after '!'".to_string(), "!"));
}

#[test]
fn shape_errors() {
    assert_eq!(lex_error("tensor<4>"), ("expected 'x' after a dimension".to_string(), "4"));
    assert_eq!(lex_error("tensor<[b]f32>").1, "[b]");
    assert_eq!(lex_error("tensor<[]xf32>").0, "expected a symbolic dimension '[name]'");
    assert_eq!(
        lex_error("tensor<99999999999999999999xf32>"),
        ("dimension does not fit in 64 bits".to_string(), "99999999999999999999")
    );
}

#[test]
fn resource_name_errors() {
    assert_eq!(lex_error("dense_resource<>").0, "expected a resource name after 'dense_resource<'");
    assert_eq!(lex_error("dense_resource<\"x>").0, "unterminated string");
}

#[test]
fn nesting_is_bounded() {
    let deep = "[".repeat(MAX_NESTING + 1);
    let (msg, text) = lex_error(&deep);
    assert_eq!(msg, format!("brackets nest more than {MAX_NESTING} levels deep"));
    assert_eq!(text, "[");
    // Closing brackets make room again.
    let balanced = "[]".repeat(MAX_NESTING * 2);
    assert_eq!(toks(&balanced).len(), MAX_NESTING * 4);
}

#[test]
fn errors_end_the_stream() {
    let mut lexer = Lexer::new("$ %0");
    assert!(matches!(lexer.next(), Some(Err(_))));
    assert!(lexer.next().is_none());
}
