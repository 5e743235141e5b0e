//! Tokens: the runtime's path in generated code, and token text for people (a stage as
//! written, for `explain()` and messages).

use proc_macro2::TokenStream;
use quote::quote;

/// The runtime, as generated code names it.
pub fn rt() -> TokenStream {
    quote!(::aqueduct::__private)
}

/// Tokens of a stage as written, with the spaces `to_string` puts between every token
/// removed where Rust style has none, for explain output.
pub fn compact(tokens: TokenStream) -> String {
    // The compiler's printer breaks long token streams into lines: one line here.
    let text = tokens
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" :: ", "::")
        .replace(":: <", "::<");
    let chars: Vec<char> = text.chars().collect();
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '>' || c == '"';
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let prev = if i > 0 { chars[i - 1] } else { ' ' };
        let next = chars.get(i + 1).copied().unwrap_or(' ');
        let redundant = c == ' '
            && ((next == '(' && ident(prev))
                || matches!(next, ',' | ')' | ']' | '.' | ';')
                || matches!(prev, '(' | '[' | '.')
                || (next == '<' && prev.is_alphanumeric() && text[..i].ends_with("::")));
        if !redundant {
            out.push(c);
        }
    }
    let out = tighten_generics(&out.replace("::< ", "::<").replace(" >(", ">("));
    tighten_closures(&out.replace(" : ", ": "))
}

/// `| s : & Sale |` → `|s: &Sale|`: the spaces inside a closure's parameter bars go.
fn tighten_closures(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("| ") {
        let opens_closure =
            rest[..start].trim_end().ends_with(['(', ',']) || rest[..start].ends_with("move ");
        let close = rest[start + 2..].find(" |");
        match close {
            Some(end) if opens_closure && !rest[start + 2..start + 2 + end].contains('|') => {
                out.push_str(&rest[..start]);
                out.push('|');
                out.push_str(&rest[start + 2..start + 2 + end].replace("& ", "&"));
                out.push('|');
                rest = &rest[start + 2 + end + 2..];
            }
            _ => {
                out.push_str(&rest[..start + 2]);
                rest = &rest[start + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `Vec < Option < f64 > >` → `Vec<Option<f64>>`: angle brackets after a capitalised name
/// (a type) lose their spaces; comparisons such as `price < 10` keep theirs.
fn tighten_generics(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let word_before = out
            .trim_end()
            .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("");
        if rest.starts_with(" <")
            && word_before.starts_with(char::is_uppercase)
            && out.ends_with(word_before)
        {
            out.push('<');
            depth += 1;
            rest = rest[2..].trim_start();
        } else if rest.starts_with("::<") {
            out.push_str("::<");
            depth += 1;
            rest = rest[3..].trim_start();
        } else if depth > 0 && (rest.starts_with(" >") || rest.starts_with('>')) {
            out.push('>');
            depth -= 1;
            rest = rest.trim_start()[1..].trim_start_matches(' ');
            if rest.starts_with(|c: char| c.is_alphanumeric() || c == '{' || c == '|') {
                out.push(' ');
            }
        } else if depth > 0 && rest.starts_with(" ,") {
            out.push(',');
            rest = &rest[2..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use quote::quote;

    #[test]
    fn compacts_stage_text() {
        assert_eq!(
            super::compact(quote!(read_parquet::<Sale>("a", include_paths = true))),
            "read_parquet::<Sale>(\"a\", include_paths = true)"
        );
        assert_eq!(
            super::compact(quote!(filter(price * (qty as f64) > 10.0))),
            "filter(price * (qty as f64) > 10.0)"
        );
        assert_eq!(
            super::compact(quote!(filter(name.starts_with("a")))),
            "filter(name.starts_with(\"a\"))"
        );
    }
}
