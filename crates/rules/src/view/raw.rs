//! Reading fields of the original record (`raw`) by path, for names the model does not hold.

use rsigma_eval::EventValue;
use serde_json::Value;

/// Log Analytics sends dynamic columns (`DeviceDetail`, `LocationDetails`, ...) as JSON text
/// (query API) or Python-repr text (pandas exports): parse them in place, as ingest does, so
/// that `DeviceDetail.isCompliant` reads the same whatever the export.
pub(super) fn expand_dynamic_columns(v: &mut Value) {
    let Value::Object(map) = v else {
        return;
    };
    for cell in map.values_mut() {
        if let Value::String(t) = cell {
            let t = t.trim_start();
            if t.starts_with('{') || t.starts_with('[') {
                if let Some(parsed) = skein_ingest::fields::dynamic(cell) {
                    *cell = parsed;
                }
            }
        }
    }
}

/// The member of object `obj` named `seg`, exactly first and then ignoring case.
fn member<'v>(obj: &'v serde_json::Map<String, Value>, seg: &str) -> Option<&'v Value> {
    obj.get(seg).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(seg))
            .map(|(_, x)| x)
    })
}

/// Resolves a dotted path in `v`; a path that meets an array continues in each of its
/// members (as Sigma's JSON events do), giving every value found.
fn lookup_all<'v>(v: &'v Value, segs: &[&str], out: &mut Vec<&'v Value>) {
    match (v, segs.split_first()) {
        (_, None) => out.push(v),
        (Value::Array(items), Some(_)) => {
            for item in items {
                lookup_all(item, segs, out);
            }
        }
        (Value::Object(obj), Some((seg, rest))) => {
            if let Some(x) = member(obj, seg) {
                lookup_all(x, rest, out);
            }
        }
        _ => {}
    }
}

/// The value at a dotted path: one value, or an array of the values found through arrays.
pub(super) fn lookup<'v>(v: &'v Value, path: &str) -> Option<EventValue<'v>> {
    let segs: Vec<&str> = path.split('.').collect();
    let mut found = Vec::new();
    lookup_all(v, &segs, &mut found);
    match found.len() {
        0 => None,
        1 => Some(EventValue::from(found[0])),
        _ => Some(EventValue::Array(
            found.into_iter().map(EventValue::from).collect(),
        )),
    }
}

pub(super) fn walk_strings(v: &Value, visit: &mut dyn FnMut(&str)) {
    match v {
        Value::String(s) => visit(s),
        Value::Array(items) => items.iter().for_each(|i| walk_strings(i, visit)),
        Value::Object(map) => map.values().for_each(|i| walk_strings(i, visit)),
        _ => {}
    }
}
