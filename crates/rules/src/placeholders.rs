//! Sigma value placeholders (`field|expand: '%name%'`), filled from the list of the same name
//! in `correlations/lists/`.
//!
//! Done here rather than with rsigma's `value_placeholders` pipeline step, which (measured on
//! SigmaHQ's placeholder rules) turns `|contains|expand` into an equality, fills values that
//! have no `|expand`, fills a list entry's own `%name%` from the event, and fills a placeholder
//! it has no values for from the event (matching nearly everything). Here each placeholder
//! value becomes one value per list entry, literal (wildcards in an entry are escaped), with
//! the text around the placeholder and the item's other modifiers kept; `|expand` is then
//! dropped and rsigma compiles the result as any other rule.

use std::collections::{BTreeMap, BTreeSet};

use rsigma_parser::{Detection, DetectionItem, Modifier, SigmaRule, SigmaString, SigmaValue};

use crate::lists::ListFile;

/// Every detection item of a detection, whatever block holds it (mapping, list, `field[any]`
/// array block, nested `And`, conditional block).
fn items_mut<'d>(d: &'d mut Detection, out: &mut Vec<&'d mut DetectionItem>) {
    match d {
        Detection::AllOf(list) => out.extend(list.iter_mut()),
        Detection::AnyOf(ds) | Detection::And(ds) => {
            for d in ds.iter_mut() {
                items_mut(d, out);
            }
        }
        Detection::ArrayMatch { body, .. } => items_mut(body, out),
        Detection::Conditional { named, .. } => {
            for d in named.values_mut() {
                items_mut(d, out);
            }
        }
        Detection::Keywords(_) => {}
    }
}

/// The text before a value's placeholder, its name, and the text after; `Err` when the value
/// holds more than one placeholder.
fn split(original: &str) -> Result<Option<(&str, &str, &str)>, String> {
    let parts: Vec<&str> = original.split('%').collect();
    match parts.len() {
        0..=2 => Ok(None),
        3 if !parts[1].is_empty() => Ok(Some((parts[0], parts[1], parts[2]))),
        3 => Ok(None),
        _ => Err(format!(
            "'{original}': one placeholder per |expand value is supported"
        )),
    }
}

/// `entry` as literal Sigma text: wildcards and the escape character escaped.
fn literal(entry: &str) -> String {
    let mut out = String::with_capacity(entry.len());
    for c in entry.chars() {
        if matches!(c, '*' | '?' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The rule with every `|expand` placeholder replaced by its list's entries, or `None` when it
/// has none. Every problem is reported: a missing or empty list, several placeholders in one
/// value.
pub(crate) fn expand_placeholders(
    rule: &SigmaRule,
    lists: &BTreeMap<String, ListFile>,
) -> Result<Option<SigmaRule>, Vec<String>> {
    let mut expanded = rule.clone();
    let mut items = Vec::new();
    let mut names: Vec<&mut Detection> = expanded.detection.named.values_mut().collect();
    for d in names.iter_mut() {
        items_mut(d, &mut items);
    }
    let mut errors = BTreeSet::new();
    let mut any = false;
    for item in items {
        if !item.field.modifiers.contains(&Modifier::Expand) {
            continue;
        }
        any = true;
        let mut values = Vec::new();
        for v in &item.values {
            let SigmaValue::String(s) = v else {
                values.push(v.clone());
                continue;
            };
            match split(&s.original) {
                Err(e) => {
                    errors.insert(e);
                }
                Ok(None) => values.push(v.clone()),
                Ok(Some((before, name, after))) => match lists.get(name) {
                    None => {
                        errors.insert(format!(
                            "placeholder '%{name}%' (|expand) needs a list: lists/{name}.txt"
                        ));
                    }
                    Some(file) if file.entries.is_empty() => {
                        errors.insert(format!(
                            "placeholder '%{name}%' (|expand): list {} has no entries",
                            file.path
                        ));
                    }
                    Some(file) => values.extend(file.entries.iter().map(|(_, entry)| {
                        SigmaValue::String(SigmaString::new(&format!(
                            "{before}{}{after}",
                            literal(entry)
                        )))
                    })),
                },
            }
        }
        item.values = values;
        item.field.modifiers.retain(|m| *m != Modifier::Expand);
    }
    if !errors.is_empty() {
        return Err(errors.into_iter().collect());
    }
    Ok(any.then_some(expanded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_split_once() {
        assert_eq!(split("%a%").unwrap(), Some(("", "a", "")));
        assert_eq!(split("*%a%x").unwrap(), Some(("*", "a", "x")));
        assert_eq!(split("100%").unwrap(), None);
        assert!(split("%a%%b%").is_err());
    }

    #[test]
    fn entries_are_literal() {
        assert_eq!(literal(r"a*b?c\d"), r"a\*b\?c\\d");
    }
}
