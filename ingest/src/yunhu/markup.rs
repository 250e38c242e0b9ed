//! Plain text from Yunhu's markdown (content type 3) and HTML (content type 8) messages, for
//! search.
//!
//! Hand-written on purpose: search needs the words, not a rendering. A full CommonMark parser
//! would still leave the inline HTML bot messages mix into markdown, and an HTML-to-text
//! crate pulls in a DOM and a layout engine; the subset below (tags, entities, link and
//! emphasis syntax, block markers) is what Yunhu messages use and fits in a page.

/// Plain text of an HTML fragment: tags removed, `script`/`style` bodies dropped, block tags
/// and `<br>` turned into line breaks, entities decoded, blank runs collapsed.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..lt]));
        let after = &rest[lt + 1..];
        let starts_tag = after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!');
        let gt = after.find('>').filter(|_| starts_tag);
        let Some(gt) = gt else {
            // A lone `<` is text (e.g. "a < b"), not a tag.
            out.push('<');
            rest = after;
            continue;
        };
        let tag = after[..gt].trim();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        rest = &after[gt + 1..];
        if !tag.starts_with('/') && (name == "script" || name == "style") {
            let close = format!("</{name}");
            rest = match find_ascii_ci(rest, &close) {
                Some(i) => rest[i..].find('>').map(|j| &rest[i + j + 1..]).unwrap_or(""),
                None => "",
            };
            continue;
        }
        if matches!(
            name.as_str(),
            "br" | "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "pre" | "blockquote" | "table"
        ) {
            out.push('\n');
        } else if matches!(name.as_str(), "td" | "th") {
            out.push(' ');
        }
    }
    out.push_str(&decode_entities(rest));
    tidy(&out)
}

/// Plain text of a markdown message: block markers (`#`, `>`, list bullets, fences, rules)
/// and inline syntax (emphasis, code ticks, links, images) removed, inline HTML stripped.
pub fn markdown_to_text(md: &str) -> String {
    let mut lines = Vec::new();
    for line in md.lines() {
        let mut l = line.trim_start();
        if l.starts_with("```") || l.starts_with("~~~") {
            continue;
        }
        if !l.is_empty() && l.chars().all(|c| matches!(c, '-' | '*' | '_' | ' ')) && l.len() >= 3 {
            continue;
        }
        while let Some(s) = l.strip_prefix('>') {
            l = s.trim_start();
        }
        let hashes = l.chars().take_while(|&c| c == '#').count();
        if hashes > 0 && l[hashes..].starts_with(' ') {
            l = l[hashes..].trim_start();
        }
        for bullet in ["- [ ] ", "- [x] ", "- ", "* ", "+ "] {
            if let Some(s) = l.strip_prefix(bullet) {
                l = s;
                break;
            }
        }
        let digits = l.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 && (l[digits..].starts_with(". ") || l[digits..].starts_with(") ")) {
            l = &l[digits + 2..];
        }
        lines.push(inline_markdown(l));
    }
    let joined = lines.join("\n");
    if joined.contains('<') {
        html_to_text(&joined)
    } else {
        tidy(&joined)
    }
}

/// Links and images keep their text, emphasis and code markers go.
fn inline_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        let image = rest.starts_with("![");
        if image || rest.starts_with('[') {
            let open = if image { 2 } else { 1 };
            if let Some(close) = rest[open..].find("](") {
                let label = &rest[open..open + close];
                let target = &rest[open + close + 2..];
                if let Some(end) = target.find(')') {
                    out.push_str(&inline_markdown(label));
                    rest = &target[end + 1..];
                    continue;
                }
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        let n = c.len_utf8();
        match c {
            '*' | '`' => {}
            '~' if rest.starts_with("~~") => {
                rest = &rest[2..];
                continue;
            }
            // `_` inside words (snake_case, file names) is text; around words it is emphasis.
            '_' if out.is_empty() || out.ends_with(' ') || rest[1..].starts_with(' ') || rest.len() == 1 => {}
            '\\' if rest.len() > 1 => {
                let next = rest[1..].chars().next().unwrap_or(' ');
                out.push(next);
                rest = &rest[1 + next.len_utf8()..];
                continue;
            }
            _ => out.push(c),
        }
        rest = &rest[n..];
    }
    out
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.find(';').filter(|&i| i <= 10);
        let decoded = semi.and_then(|i| {
            let name = &after[..i];
            let c = match name {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                "nbsp" => ' ',
                _ => {
                    let code = if let Some(h) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                        u32::from_str_radix(h, 16).ok()
                    } else {
                        name.strip_prefix('#').and_then(|d| d.parse().ok())
                    };
                    code.and_then(char::from_u32)?
                }
            };
            Some((c, i))
        });
        match decoded {
            Some((c, i)) => {
                out.push(c);
                rest = &after[i + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    hay.as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Trims each line, drops blank runs, joins with `\n`.
fn tidy(s: &str) -> String {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_keeps_words_and_drops_markup() {
        let html = "<p>请查看<b>农业局</b>项目&amp;合同</p><script>alert(1)</script><ul><li>第一条</li><li>second &lt;item&gt;</li></ul>";
        assert_eq!(html_to_text(html), "请查看农业局项目&合同\n第一条\nsecond <item>");
    }

    #[test]
    fn html_lone_angle_bracket_is_text() {
        assert_eq!(html_to_text("a < b and c > d"), "a < b and c > d");
        assert_eq!(html_to_text("&#20013;&#x6587; &unknown; &"), "中文 &unknown; &");
    }

    #[test]
    fn markdown_keeps_text_of_links_and_headings() {
        let md = "# 会议纪要\n\n- **报销** 流程见 [制度](https://example.com/a)\n> 引用 `code`\n```\nlet x = 1;\n```\n1. 第一项\n![图](https://x/y.png) snake_case_name";
        assert_eq!(
            markdown_to_text(md),
            "会议纪要\n报销 流程见 制度\n引用 code\nlet x = 1;\n第一项\n图 snake_case_name"
        );
    }

    #[test]
    fn markdown_with_inline_html() {
        assert_eq!(
            markdown_to_text("**合同**<br>已签 <font color=red>完成</font>"),
            "合同\n已签 完成"
        );
    }
}
