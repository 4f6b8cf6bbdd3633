//! Every formula in a doc comment reaches KaTeX intact.
//!
//! Rustdoc reads a doc comment as Markdown; then, in the reader's browser, KaTeX
//! (`docs/katex-header.html`) typesets `$...$` inline and `$$...$$` display in what Markdown
//! left. Markdown must therefore leave the maths alone. This test scans every `///` and `//!`
//! comment under `src/` and fails, naming the file, the line and the rule, where one of these
//! rules is broken inside maths (text in code spans and code blocks is never maths):
//!
//! 1. **Delimiters pair up** within a paragraph and between code spans, paired as KaTeX's
//!    auto-render pairs them (a `{` opened in maths closes before the closing `$`). A literal
//!    dollar sign goes in a code span.
//! 2. **Markdown drops a backslash before ASCII punctuation**, so LaTeX's `\,` `\;` `\!` `\|`
//!    `\{` `\}` `\\` are written `\\,` `\\;` `\\!` `\\|` `\\{` `\\}` `\\\\`. A backslash
//!    ending a line is a hard line break.
//! 3. **What Markdown would interpret is escaped with one backslash**: `\*` (emphasis), `\'`
//!    and `\"` (curly quotes), `\_` after a bracket, backslash, other punctuation or a space
//!    (emphasis, as in `(x)\_i`; so LaTeX's `\_` is `\\\_`), `\[name\]` (an intra-doc link).
//! 4. **No typography or HTML**: `\dots` rather than `...`, no `--` (an en dash), a space after
//!    `<` (`<b` opens an HTML tag), no character reference `&name;`.
//! 5. **A formula continued on the next line** does not start that line with a list, quote or
//!    heading marker (`- `, `+ `, `* `, `> `, `#`, `1. `): end the previous line with the
//!    operator instead; no line in maths ends with two spaces (a hard line break).
//!
//! The rules were read off rustdoc's output: for each, the broken form renders wrong
//! (the `mistakes_are_caught` cases below) and the written form renders as typed.

use std::fmt;
use std::path::{Path, PathBuf};

/// One broken rule: where, which rule, and the offending text.
#[derive(Debug, Clone, PartialEq)]
struct Finding {
    line: usize,
    rule: &'static str,
    excerpt: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: `{}`", self.line, self.rule, self.excerpt)
    }
}

const UNPAIRED: &str = "rule 1: a `$` without its partner (a literal dollar goes in a code span)";
const DROPPED_BACKSLASH: &str =
    "rule 2: Markdown drops this backslash; for LaTeX's `\\c` write `\\\\c`";
const HARD_BREAK: &str = "rule 2/5: a backslash or two spaces ending a line is a hard line break";
const STAR: &str = "rule 3: Markdown reads `*` as emphasis; write `\\*`";
const QUOTE: &str = "rule 3: Markdown curls a straight quote; write `\\'` or `\\\"`";
const UNDERSCORE: &str =
    "rule 3: `_` after punctuation or a space opens emphasis; write `\\_` (LaTeX's `\\_`: `\\\\\\_`)";
const NEEDLESS_ESCAPE: &str =
    "rule 3: `\\_` after a letter or digit is Markdown's `_`; for LaTeX's `\\_` write `\\\\\\_`";
const LINK: &str = "rule 3: rustdoc may read `[name]` as an intra-doc link; write `\\[name\\]`";
const TYPOGRAPHY: &str = "rule 4: Markdown turns `...` into `…` and `--` into `–`";
const HTML: &str = "rule 4: `<` before a letter, or `&name;`, is read as HTML";
const BLOCK_MARKER: &str =
    "rule 5: this line starts a list, quote or heading; end the previous line with the operator";

/// A character of a doc comment with the source line it came from.
#[derive(Clone, Copy)]
struct Ch {
    c: char,
    line: usize,
}

/// The doc comments of a Rust source: runs of consecutive `///` or `//!` lines, one string per
/// run, each character tagged with its line (1-based).
fn doc_blocks(source: &str) -> Vec<Vec<Ch>> {
    let mut blocks = Vec::new();
    let mut current: Vec<Ch> = Vec::new();
    let mut kind = "";
    for (i, raw) in source.lines().enumerate() {
        let t = raw.trim_start();
        let marker = if t.starts_with("////") {
            ""
        } else if t.starts_with("///") {
            "///"
        } else if t.starts_with("//!") {
            "//!"
        } else {
            ""
        };
        if marker.is_empty() || marker != kind {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
            kind = marker;
        }
        if marker.is_empty() {
            continue;
        }
        current.extend(t[3..].chars().map(|c| Ch { c, line: i + 1 }));
        current.push(Ch {
            c: '\n',
            line: i + 1,
        });
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

/// Splits a doc comment into paragraphs (blank lines and fenced code blocks end one), and each
/// paragraph into the runs of text between code spans: KaTeX sees each such run on its own.
fn text_runs(block: &[Ch]) -> Vec<Vec<Ch>> {
    let mut paragraphs: Vec<Vec<Ch>> = vec![Vec::new()];
    let mut in_fence = false;
    for line in block.split_inclusive(|ch| ch.c == '\n') {
        let text: String = line.iter().map(|ch| ch.c).collect();
        let t = text.trim();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_fence = !in_fence;
            paragraphs.push(Vec::new());
        } else if t.is_empty() {
            paragraphs.push(Vec::new());
        } else if !in_fence {
            paragraphs
                .last_mut()
                .expect("one paragraph")
                .extend_from_slice(line);
        }
    }
    let mut runs = Vec::new();
    for p in paragraphs {
        let mut run = Vec::new();
        let mut i = 0;
        while i < p.len() {
            if p[i].c == '`' {
                let ticks = p[i..].iter().take_while(|ch| ch.c == '`').count();
                if let Some(end) = code_span_end(&p, i + ticks, ticks) {
                    runs.push(std::mem::take(&mut run));
                    i = end;
                    continue;
                }
                run.extend_from_slice(&p[i..i + ticks]);
                i += ticks;
            } else {
                run.push(p[i]);
                i += 1;
            }
        }
        runs.push(run);
    }
    runs.retain(|r| !r.is_empty());
    runs
}

/// Where a code span opened by `ticks` backticks ends (just after its closing run), if it does.
fn code_span_end(p: &[Ch], mut i: usize, ticks: usize) -> Option<usize> {
    while i < p.len() {
        if p[i].c == '`' {
            let n = p[i..].iter().take_while(|ch| ch.c == '`').count();
            if n == ticks {
                return Some(i + n);
            }
            i += n;
        } else {
            i += 1;
        }
    }
    None
}

/// What Markdown makes of backslash escapes: each output character with the index of the
/// source character it came from (an escaped character keeps its own index).
fn unescape(run: &[Ch]) -> Vec<(char, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < run.len() {
        if run[i].c == '\\' && run.get(i + 1).is_some_and(|n| n.c.is_ascii_punctuation()) {
            out.push((run[i + 1].c, i + 1));
            i += 2;
        } else {
            out.push((run[i].c, i));
            i += 1;
        }
    }
    out
}

/// KaTeX auto-render's search for the closing delimiter (`findEndOfMath`): skips the character
/// after a backslash and any delimiter inside braces.
fn end_of_math(text: &[(char, usize)], delim: &str, mut i: usize) -> Option<usize> {
    let d: Vec<char> = delim.chars().collect();
    let mut level = 0i32;
    while i < text.len() {
        let at_delim = text[i..]
            .iter()
            .map(|x| x.0)
            .take(d.len())
            .eq(d.iter().copied());
        match text[i].0 {
            _ if level <= 0 && at_delim => return Some(i),
            '\\' => i += 1,
            '{' => level += 1,
            '}' => level -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The maths of a run of text as source index ranges (delimiters excluded), paired as KaTeX's
/// auto-render pairs `$$` and `$`; `Err` holds the index of a `$` left without a partner.
fn math_spans(run: &[Ch]) -> Result<Vec<(usize, usize)>, usize> {
    let text = unescape(run);
    let mut spans = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i].0 != '$' {
            i += 1;
            continue;
        }
        let delim = if text.get(i + 1).is_some_and(|x| x.0 == '$') {
            "$$"
        } else {
            "$"
        };
        let start = i + delim.len();
        let end = end_of_math(&text, delim, start).ok_or(text[i].1)?;
        // Source index just after the opening delimiter (a backslash there belongs to the maths).
        spans.push((text[start - 1].1 + 1, text[end].1));
        i = end + delim.len();
    }
    Ok(spans)
}

/// The rules 2 to 5 on one formula, `run[from..to]`.
fn check_math(run: &[Ch], from: usize, to: usize, findings: &mut Vec<Finding>) {
    let c = |i: usize| run.get(i).map_or('\n', |ch| ch.c);
    let excerpt = |a: usize, b: usize| -> String {
        run[a.saturating_sub(8).max(from)..(b + 8).min(to)]
            .iter()
            .map(|ch| ch.c)
            .collect()
    };
    let mut flag = |i: usize, rule: &'static str| {
        findings.push(Finding {
            line: run[i.min(run.len() - 1)].line,
            rule,
            excerpt: excerpt(i, i + 1),
        });
    };
    let mut i = from;
    while i < to {
        let ch = c(i);
        if ch == '\\' {
            let n = (i..to).take_while(|&j| c(j) == '\\').count();
            let next = c(i + n);
            let escaped = n % 2 == 1;
            let before = if i == 0 { ' ' } else { c(i - 1) };
            if escaped && next == '\n' {
                flag(i, HARD_BREAK);
            } else if escaped && next.is_ascii_punctuation() {
                match next {
                    '*' | '\'' | '"' | '[' | ']' | '$' => {}
                    '_' if n > 1 || punct_or_space(before) => {}
                    '_' => flag(i, NEEDLESS_ESCAPE),
                    _ => flag(i, DROPPED_BACKSLASH),
                }
            }
            // An escaped character is literal; after an even run, the character is bare.
            i += if escaped { n + 1 } else { n };
            continue;
        }
        let prev = if i == 0 { ' ' } else { c(i - 1) };
        match ch {
            '*' => flag(i, STAR),
            '\'' | '"' => flag(i, QUOTE),
            '_' if punct_or_space(prev) && !c(i + 1).is_whitespace() => flag(i, UNDERSCORE),
            '.' if c(i + 1) == '.' && c(i + 2) == '.' => flag(i, TYPOGRAPHY),
            '-' if c(i + 1) == '-' => flag(i, TYPOGRAPHY),
            '<' if opens_tag(run, i + 1, to) => flag(i, HTML),
            '&' if is_char_reference(run, i + 1, to) => flag(i, HTML),
            '[' if is_link_like(run, i + 1, to) => flag(i, LINK),
            ' ' if c(i + 1) == ' ' && c(i + 2) == '\n' => flag(i, HARD_BREAK),
            '\n' if i + 1 < to && starts_block(run, i + 1, to) => flag(i + 1, BLOCK_MARKER),
            _ => {}
        }
        i += 1;
    }
}

/// Whether a `_` after `prev` can open emphasis, unless a space follows it (CommonMark's
/// left-flanking rule for `_`).
fn punct_or_space(prev: char) -> bool {
    prev.is_ascii_punctuation() || prev.is_whitespace()
}

/// Whether a `<` just before `run[i]` can open an HTML tag: a tag name (or `/`, `!`, `?`)
/// then a space, `/` or `>`, and a `>` further on in the formula.
fn opens_tag(run: &[Ch], i: usize, to: usize) -> bool {
    let rest: String = run[i..to].iter().map(|ch| ch.c).collect();
    let name = rest.trim_start_matches(['/', '!', '?']);
    let len = name
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .count();
    let after = name[len..].chars().next();
    let tag = (name.starts_with(|c: char| c.is_ascii_alphabetic()) || name.len() < rest.len())
        && after.is_none_or(|c| c.is_whitespace() || c == '/' || c == '>');
    tag && rest.contains('>')
}

/// Whether `run[i..]` reads as a character reference: `name;` or `#digits;`.
fn is_char_reference(run: &[Ch], i: usize, to: usize) -> bool {
    let body: String = run[i..to]
        .iter()
        .map(|ch| ch.c)
        .take_while(|&c| c != ';')
        .collect();
    i + body.chars().count() < to
        && !body.is_empty()
        && (body.chars().all(|c| c.is_ascii_alphanumeric())
            || body
                .strip_prefix('#')
                .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit())))
}

/// Whether a bracket opened just before `run[i]` holds a bare name (`[x]`, `[Z::f]`) or is
/// followed by `(` or `[`: what rustdoc tries as a link.
fn is_link_like(run: &[Ch], i: usize, to: usize) -> bool {
    let Some(close) = (i..to).find(|&j| run[j].c == ']' && run[j - 1].c != '\\') else {
        return false;
    };
    let inner: String = run[i..close].iter().map(|ch| ch.c).collect();
    let name = inner.trim();
    let bare_name = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    bare_name || run.get(close + 1).is_some_and(|n| n.c == '(' || n.c == '[')
}

/// Whether the line starting at `run[i]` opens a Markdown block: a list item, block quote,
/// ATX heading or setext underline.
fn starts_block(run: &[Ch], i: usize, to: usize) -> bool {
    let line: String = run[i..to]
        .iter()
        .map(|ch| ch.c)
        .take_while(|&c| c != '\n')
        .collect();
    let t = line.trim_start();
    let after = |p: &str| {
        t.strip_prefix(p)
            .is_some_and(|r| r.is_empty() || r.starts_with(' '))
    };
    let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
    after("-")
        || after("+")
        || after("*")
        || t.starts_with('>')
        || t.starts_with('#')
        || (digits > 0
            && (after(&format!("{}.", &t[..digits])) || after(&format!("{})", &t[..digits]))))
        || (!t.is_empty() && (t.chars().all(|c| c == '=') || t.chars().all(|c| c == '-')))
}

/// Every broken rule in the doc comments of one Rust source.
fn scan(source: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    for block in doc_blocks(source) {
        for run in text_runs(&block) {
            match math_spans(&run) {
                Ok(spans) => {
                    for (from, to) in spans {
                        check_math(&run, from, to, &mut findings);
                    }
                }
                Err(at) => findings.push(Finding {
                    line: run[at].line,
                    rule: UNPAIRED,
                    excerpt: run[at..].iter().map(|ch| ch.c).take(40).collect(),
                }),
            }
        }
    }
    findings
}

fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn doc_comment_maths_survives_markdown() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_sources(&src, &mut files);
    assert!(
        files.len() > 20,
        "found only {} sources under {}",
        files.len(),
        src.display()
    );
    let mut report = Vec::new();
    let mut formulas = 0;
    for path in &files {
        let source = std::fs::read_to_string(path).expect("readable source");
        formulas += doc_blocks(&source)
            .iter()
            .flat_map(|b| text_runs(b))
            .filter_map(|r| math_spans(&r).ok())
            .map(|s| s.len())
            .sum::<usize>();
        for f in scan(&source) {
            report.push(format!(
                "{}:{f}",
                path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
                    .unwrap_or(path)
                    .display()
            ));
        }
    }
    // The crate documents its formulas: a scan that finds few has lost its way.
    assert!(formulas > 500, "only {formulas} formulas found");
    assert!(
        report.is_empty(),
        "{} broken formulas in doc comments (rules in tests/doc_math.rs):\n{}",
        report.len(),
        report.join("\n")
    );
}

/// The first rule a one-line `///` comment breaks (`None`: it passes).
fn rule_of(doc: &str) -> Option<&'static str> {
    scan(&format!("/// {doc}\nfn f() {{}}\n"))
        .first()
        .map(|f| f.rule)
}

#[test]
fn mistakes_are_caught() {
    // Each broken form was seen to render wrong in rustdoc's HTML: the backslash dropped, an
    // `<em>` or `<a>` element inside the maths, a curly quote, a list item.
    let cases = [
        (r"thin $a\,b$ space", DROPPED_BACKSLASH),
        (r"norm $\|x\|$", DROPPED_BACKSLASH),
        (r"set $\{1\}$", DROPPED_BACKSLASH),
        (r"$\texttt{rel\_step}$", NEEDLESS_ESCAPE),
        (r"$r^*$ and $\pi_{r^*}$", STAR),
        (r"$f'(x)$", QUOTE),
        (r"$\operatorname{softmax}(x)_i$", UNDERSCORE),
        (r"$\|x\|_2$", DROPPED_BACKSLASH),
        (r"$\mathbb E[f]$", LINK),
        (r"$[a](b)$", LINK),
        (r"$a...b$", TYPOGRAPHY),
        (r"$a--b$", TYPOGRAPHY),
        (r"$a<b>$", HTML),
        (r"$x <span class=y>$", HTML),
        (r"$\texttt{a\\_b} + x_{i}$", UNDERSCORE),
        (r"$\sum _i x_{i}$", UNDERSCORE),
        (r"$a &amp; b$", HTML),
        (r"costs $5 and more", UNPAIRED),
        (r"$\frac{1}{2$ then $x$", UNPAIRED),
        (r"$$a$ b", UNPAIRED),
    ];
    for (doc, rule) in cases {
        assert_eq!(rule_of(doc), Some(rule), "{doc}");
    }
    let display = "/// $$\\ell = a\n/// - b.$$\nfn f() {}\n";
    assert_eq!(
        scan(display).first().map(|f| (f.line, f.rule)),
        Some((2, BLOCK_MARKER))
    );
    let break_line = "/// $$a \\\\\\\n/// b$$\nfn f() {}\n";
    assert_eq!(
        scan(break_line).first().map(|f| (f.line, f.rule)),
        Some((1, HARD_BREAK))
    );
}

#[test]
fn written_forms_pass() {
    // Each form renders as the LaTeX it stands for (read off rustdoc's HTML).
    let cases = [
        r"thin $a\\,b$, norm $\\|x\\|\_2$, set $\\{1\\}$, $\texttt{rel\\\_step}$, $f_ 2$",
        r"$r^\*$, $\pi_{r^\*}$, $f\'(x)$, $\sum_{y\'} e^{y\'}$, $\operatorname{softmax}(x)\_i$",
        r"$x_i$, $\pi_{\text{ref}}(y_w|x)$, $[0, 1]$, $[0, V)$, $[x\'=x]$, $\mathbb E\[f\]$",
        r"$x < 0$, $k<m$, $\sum_{k<m} x > 0$, $a \le b$, $\dots$, $-\log\sigma(-z)$, $$\sum_i x_i$$ and `$HOME` in code",
        r"$$\begin{aligned} a &= b \\\\ c &= d \end{aligned}$$ and no maths at all",
    ];
    for doc in cases {
        assert_eq!(rule_of(doc), None, "{doc}");
    }
    let display =
        "/// $$\\ell = a -\n/// b + c.$$ Then $x$.\n///\n/// - a list item, $y$\nfn f() {}\n";
    assert_eq!(scan(display), vec![]);
}
