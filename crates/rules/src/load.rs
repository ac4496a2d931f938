//! Turning rule and list texts into a [`RuleSet`], with every problem reported as a
//! [`Diagnostic`] naming the file and line. The caller reads the files (this crate does no IO).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use rsigma_parser::parse_sigma_yaml;

use crate::correlation::{self, spec, CorrelationDef};
use crate::engine::RuleSet;
use crate::lists::{ListFile, ListMatcher};
use crate::rule::{self, Rule};
use crate::spec::SkeinBlock;

/// A file's path (as it should be shown) and its text.
#[derive(Debug, Clone)]
pub struct SourceText {
    pub path: String,
    pub text: String,
}

/// One problem in a rule or list file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path, self.line, self.message)
    }
}

/// The outcome of loading one YAML document of a rule file.
pub enum DocOutcome {
    Rule(Box<Rule>),
    /// A multi-event rule, compiled once every per-event rule is loaded.
    Correlation {
        def: Box<CorrelationDef>,
        line: usize,
    },
    /// A Sigma correlation or filter document, which this loader does not evaluate.
    Unsupported {
        line: usize,
        title: String,
        what: String,
    },
    Error(Vec<Diagnostic>),
}

/// A YAML document of a file: its first line (1-based) and text.
struct Doc<'a> {
    line: usize,
    text: std::borrow::Cow<'a, str>,
}

/// Splits a multi-document YAML file at `---` lines, remembering where each document starts.
/// A file using Sigma collection actions (`action: global`) is kept whole so that `rsigma`
/// can apply them.
fn documents(text: &str) -> Vec<Doc<'_>> {
    if text.lines().any(|l| l.starts_with("action:")) {
        return vec![Doc {
            line: 1,
            text: text.into(),
        }];
    }
    let mut docs = Vec::new();
    let mut start = 1;
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_end() == "---" {
            docs.push(Doc {
                line: start,
                text: std::mem::take(&mut current).into(),
            });
            start = i + 2;
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    docs.push(Doc {
        line: start,
        text: current.into(),
    });
    docs.retain(|d| {
        d.text
            .lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    });
    docs
}

/// The line (0-based, within `doc`) a message most likely refers to: the YAML parser's own
/// position, else the first line mentioning a quoted name from the message, else 0.
fn locate(doc: &str, message: &str) -> usize {
    if message.starts_with("logsource ") {
        if let Some(i) = doc.lines().position(|l| l.starts_with("logsource:")) {
            return i;
        }
    }
    if let Some(pos) = message.find("line ") {
        let digits: String = message[pos + 5..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(n) = digits.parse::<usize>() {
            return n.saturating_sub(1);
        }
    }
    let mut tokens = Vec::new();
    for quote in ['\'', '"', '`'] {
        let mut parts = message.split(quote);
        parts.next();
        while let (Some(inner), _) = (parts.next(), parts.next()) {
            if !inner.trim().is_empty() && inner.len() < 200 {
                tokens.push(inner.to_string());
            }
        }
    }
    // A field name like `risk.levl` appears in the file as its last segment's key.
    let keys: Vec<String> = message
        .split(|c: char| c.is_whitespace() || c == ':')
        .filter(|w| w.contains('.') || w.contains('|'))
        .map(str::to_string)
        .collect();
    tokens.extend(keys);
    for token in &tokens {
        if let Some(i) = doc.lines().position(|l| l.contains(token.as_str())) {
            return i;
        }
    }
    0
}

/// Loads one rule file's documents.
pub fn load_file(
    file: &SourceText,
    lists: &BTreeMap<String, ListFile>,
    cache: &mut BTreeMap<(String, String), Arc<ListMatcher>>,
) -> Vec<DocOutcome> {
    let mut out = Vec::new();
    for doc in documents(&file.text) {
        let diag = |offset: usize, message: String| Diagnostic {
            path: file.path.clone(),
            line: doc.line + offset,
            message,
        };
        let id_line = doc.line
            + doc
                .text
                .lines()
                .position(|l| l.starts_with("id:"))
                .unwrap_or(0);
        let parsed = yaml_serde::from_str::<yaml_serde::Value>(&doc.text).ok();
        let has_condition = parsed
            .as_ref()
            .and_then(|v| v.get("correlation"))
            .is_some_and(|c| c.get("condition").is_some());
        if let Some(value) = parsed {
            if spec::is_skein_type(&value) {
                match spec::from_skein_yaml(value) {
                    Ok(def) => out.push(DocOutcome::Correlation {
                        def: Box::new(def),
                        line: id_line,
                    }),
                    Err(m) => out.push(DocOutcome::Error(vec![diag(locate(&doc.text, &m), m)])),
                }
                continue;
            }
        }
        let collection = match parse_sigma_yaml(&doc.text) {
            Ok(c) => c,
            Err(e) => {
                let m = e.to_string();
                out.push(DocOutcome::Error(vec![diag(locate(&doc.text, &m), m)]));
                continue;
            }
        };
        if !collection.errors.is_empty() {
            out.push(DocOutcome::Error(
                collection
                    .errors
                    .iter()
                    .map(|m| diag(locate(&doc.text, m), m.clone()))
                    .collect(),
            ));
        }
        for c in &collection.correlations {
            let presentation = match c.custom_attributes.get("skein") {
                None => Ok(Default::default()),
                Some(v) => yaml_serde::from_value(v.clone()).map_err(|e| format!("skein: {e}")),
            };
            match presentation.and_then(|p| spec::from_sigma(c, has_condition, p)) {
                Ok(def) => out.push(DocOutcome::Correlation {
                    def: Box::new(def),
                    line: id_line,
                }),
                Err(m) => out.push(DocOutcome::Error(vec![diag(locate(&doc.text, &m), m)])),
            }
        }
        for f in &collection.filters {
            out.push(DocOutcome::Unsupported {
                line: doc.line,
                title: f.title.clone(),
                what: "a Sigma filter rule".into(),
            });
        }
        for sigma in &collection.rules {
            let block = match sigma.custom_attributes.get("skein") {
                None => SkeinBlock::default(),
                Some(v) => match yaml_serde::from_value::<SkeinBlock>(v.clone()) {
                    Ok(b) => b,
                    Err(e) => {
                        let at = doc
                            .text
                            .lines()
                            .position(|l| l.starts_with("skein:"))
                            .unwrap_or(0);
                        let m = format!("skein: {e}");
                        let line = match locate(&doc.text, &m) {
                            0 => at,
                            n => n,
                        };
                        out.push(DocOutcome::Error(vec![diag(line, m)]));
                        continue;
                    }
                },
            };
            match rule::build(sigma, block, lists, cache, &file.path, id_line) {
                Ok(r) => out.push(DocOutcome::Rule(Box::new(r))),
                Err(errors) => out.push(DocOutcome::Error(
                    errors
                        .into_iter()
                        .map(|m| diag(locate(&doc.text, &m), m))
                        .collect(),
                )),
            }
        }
    }
    out
}

/// Rules, lists and every problem found while loading them.
pub struct Loaded {
    pub rules: RuleSet,
    pub diagnostics: Vec<Diagnostic>,
}

/// Loads every rule file against the given lists (file name without `.txt` → text). Rules
/// with errors are left out and reported; duplicate ids keep the first definition.
pub fn load(rule_files: &[SourceText], list_files: &[SourceText]) -> Loaded {
    let mut lists = BTreeMap::new();
    for f in list_files {
        let name = f
            .path
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(&f.path)
            .trim_end_matches(".txt")
            .to_string();
        lists.insert(name.clone(), ListFile::parse(&name, &f.path, &f.text));
    }
    let mut cache = BTreeMap::new();
    let mut diagnostics = Vec::new();
    let mut rules: Vec<Rule> = Vec::new();
    let mut seen: HashMap<String, (String, usize)> = HashMap::new();
    let mut defs: Vec<(CorrelationDef, String, usize)> = Vec::new();
    for file in rule_files {
        for outcome in load_file(file, &lists, &mut cache) {
            match outcome {
                DocOutcome::Correlation { def, line } => defs.push((*def, file.path.clone(), line)),
                DocOutcome::Rule(r) => {
                    if let Some((p, l)) = seen.get(&r.id) {
                        diagnostics.push(Diagnostic {
                            path: r.path.clone(),
                            line: r.line,
                            message: format!("rule id {:?} is already defined at {p}:{l}", r.id),
                        });
                        continue;
                    }
                    seen.insert(r.id.clone(), (r.path.clone(), r.line));
                    rules.push(*r);
                }
                DocOutcome::Unsupported { line, title, what } => diagnostics.push(Diagnostic {
                    path: file.path.clone(),
                    line,
                    message: format!("{title:?} is {what}, which skein does not evaluate yet"),
                }),
                DocOutcome::Error(d) => diagnostics.extend(d),
            }
        }
    }
    let mut compiled = Vec::new();
    for (def, path, line) in defs {
        if let Some((p, l)) = seen.get(&def.id) {
            diagnostics.push(Diagnostic {
                path,
                line,
                message: format!("rule id {:?} is already defined at {p}:{l}", def.id),
            });
            continue;
        }
        seen.insert(def.id.clone(), (path.clone(), line));
        match correlation::compile(def, &rules, compiled.len(), &path, line) {
            Ok(c) => compiled.push(c),
            Err(errors) => diagnostics.extend(errors.into_iter().map(|message| Diagnostic {
                path: path.clone(),
                line,
                message,
            })),
        }
    }
    Loaded {
        rules: RuleSet::with_correlations(rules, compiled),
        diagnostics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_remember_their_first_line() {
        let docs = documents("a: 1\n---\n# c\nb: 2\n---\n\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].line, 1);
        assert_eq!(docs[1].line, 3);
    }

    #[test]
    fn locate_uses_yaml_positions_and_quoted_names() {
        assert_eq!(locate("a\nb\n", "bad at line 2 column 3"), 1);
        assert_eq!(locate("x: 1\ny|foo: 2\n", "Unknown modifier 'foo'"), 1);
        assert_eq!(locate("x\n", "nothing to see"), 0);
    }
}
