//! Log Analytics query-API tables: `{"name", "columns": [{"name", "type"}], "rows": [[...]]}`
//! (one element of a response's `tables`). Each row becomes a JSON object (column name →
//! cell) that is handed to [`crate::detect::parse_object`] like any other record, so the
//! table's rows may be sign-ins, blob logs or anything `detect` knows.
//!
//! This module owns the row → object conversion only. It must not map fields (that is the
//! per-source parsers), decide what a row is (that is `detect`) or do IO. It never panics.
//!
//! # Decisions
//! - Keys are matched ignoring case (`columns`/`Columns`, `rows`/`Rows`, a column's
//!   `name`/`ColumnName`), so the older `Tables`/`Columns`/`Rows` layout parses too.
//! - Cells are kept as sent: `dynamic` columns arrive as JSON text and are parsed by the
//!   source parsers, not here. A `null` cell is kept as `null`.
//! - A row's `raw` is the compact JSON text of the object built from it.
//! - A table without a `columns` array (or with a column without a name) or without a
//!   `rows` array is rejected as a whole (`Item::Rejected { row: None }`); a row that is not an
//!   array or has the wrong number of cells is rejected alone (`row: Some(i)`), and the other
//!   rows are still parsed. Two columns with the same name: the later one wins.

use serde_json::{Map, Value};
use skein_model::Source;

use crate::fields;
use crate::{invalid, Item, RecordError};

const SHAPE: &str = "Log Analytics table";

/// One row of a table as an object, or why it is malformed.
pub type Row = Result<Map<String, Value>, RecordError>;

/// Parses every row of a query-API table into `out`: at least one [`Item`] per row (a
/// table that cannot be read at all gives one `Item::Rejected { row: None, .. }`).
pub fn parse_table(table: &Map<String, Value>, forced: Option<Source>, out: &mut Vec<Item>) {
    let rows = match rows_to_objects(table) {
        Ok(rows) => rows,
        Err(error) => {
            out.push(Item::Rejected { row: None, error });
            return;
        }
    };
    for (i, row) in rows.into_iter().enumerate() {
        emit_row(i, row, forced, out);
    }
}

/// Hands one row (as an object) to `detect`, or rejects it, tagging what it produced with
/// its row number.
fn emit_row(i: usize, row: Row, forced: Option<Source>, out: &mut Vec<Item>) {
    let obj = match row {
        Ok(obj) => obj,
        Err(error) => {
            out.push(Item::Rejected {
                row: Some(i),
                error,
            });
            return;
        }
    };
    let raw = Value::Object(obj);
    let text = raw.to_string();
    let Value::Object(obj) = raw else {
        return;
    };
    let before = out.len();
    crate::detect::parse_object(&obj, &text, forced, out);
    // Tag what the row produced with its row number where `detect` could not.
    for item in &mut out[before..] {
        if let Item::Rejected { row: r @ None, .. } = item {
            *r = Some(i);
        }
    }
}

/// One row as an object (column name → cell), taking the cells by value.
fn row_object(i: usize, names: &[&str], row: Value) -> Row {
    match row {
        Value::Array(cells) if cells.len() == names.len() => {
            Ok(names.iter().map(|n| (*n).to_string()).zip(cells).collect())
        }
        Value::Array(cells) => Err(invalid(
            SHAPE,
            format!(
                "row {i} has {} cells for {} columns",
                cells.len(),
                names.len()
            ),
        )),
        other => Err(invalid(
            SHAPE,
            format!("row {i} is not an array: {}", crate::entra::short(&other)),
        )),
    }
}

/// The names of a table's columns, or why they cannot be read.
fn column_names(columns: &[Value]) -> Result<Vec<&str>, RecordError> {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let name = match c {
                Value::Object(o) => fields::get_ci(o, "name")
                    .or_else(|| fields::get_ci(o, "ColumnName"))
                    .and_then(Value::as_str),
                Value::String(s) => Some(s.as_str()),
                _ => None,
            };
            name.filter(|n| !n.is_empty())
                .ok_or_else(|| invalid(SHAPE, format!("column {i} has no name")))
        })
        .collect()
}

/// Parses a table frame's text row by row, without building the whole table as a `Value`
/// (a 12 MB query-API page would otherwise cost ~100 MB while it is parsed). Returns `false`
/// — having pushed nothing the caller should keep — when the text is not a table whose
/// `columns` come before its `rows`, or is not valid JSON; the caller then parses it the
/// ordinary way, which reports precisely what is wrong.
pub fn parse_table_text(text: &str, forced: Option<Source>, out: &mut Vec<Item>) -> bool {
    let mut de = serde_json::Deserializer::from_str(text);
    let visitor = stream::TableVisitor { forced, out };
    matches!(
        serde::Deserializer::deserialize_map(&mut de, visitor),
        Ok(true)
    ) && de.end().is_ok()
}

/// The serde visitors behind [`parse_table_text`].
mod stream {
    use std::fmt;

    use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde_json::Value;
    use skein_model::Source;

    use super::{column_names, emit_row, row_object};
    use crate::Item;

    /// Visits a table object; `Ok(true)` when its rows were parsed.
    pub(super) struct TableVisitor<'a> {
        pub forced: Option<Source>,
        pub out: &'a mut Vec<Item>,
    }

    impl<'de> Visitor<'de> for TableVisitor<'_> {
        type Value = bool;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a Log Analytics table object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            let mut columns: Option<Vec<Value>> = None;
            let mut rows_done = false;
            let mut usable = true;
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if key.eq_ignore_ascii_case("columns") && columns.is_none() && !rows_done {
                    match map.next_value::<Value>()? {
                        Value::Array(c) => columns = Some(c),
                        _ => usable = false,
                    }
                } else if key.eq_ignore_ascii_case("rows") && !rows_done {
                    let names = match columns.as_deref().map(column_names) {
                        Some(Ok(names)) if usable => names,
                        _ => {
                            usable = false;
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    map.next_value_seed(RowsSeed {
                        names: &names,
                        forced: self.forced,
                        out: &mut *self.out,
                    })?;
                    rows_done = true;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(usable && rows_done)
        }
    }

    /// Parses a `rows` array one row at a time.
    struct RowsSeed<'a, 'n> {
        names: &'n [&'n str],
        forced: Option<Source>,
        out: &'a mut Vec<Item>,
    }

    impl<'de> DeserializeSeed<'de> for RowsSeed<'_, '_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de> Visitor<'de> for RowsSeed<'_, '_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of rows")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0;
            while let Some(row) = seq.next_element::<Value>()? {
                emit_row(i, row_object(i, self.names, row), self.forced, self.out);
                i += 1;
            }
            Ok(())
        }
    }
}

/// Converts a table's rows into objects (column name → cell). The outer error is a table
/// that cannot be read at all; an inner error is one malformed row.
pub fn rows_to_objects(table: &Map<String, Value>) -> Result<Vec<Row>, RecordError> {
    let columns = match fields::get_ci(table, "columns") {
        Some(Value::Array(c)) => c,
        Some(other) => {
            return Err(invalid(
                SHAPE,
                format!("columns is not an array: {}", crate::entra::short(other)),
            ))
        }
        None => return Err(invalid(SHAPE, "no columns")),
    };
    let names = column_names(columns)?;
    let rows = match fields::get_ci(table, "rows") {
        Some(Value::Array(r)) => r,
        Some(other) => {
            return Err(invalid(
                SHAPE,
                format!("rows is not an array: {}", crate::entra::short(other)),
            ))
        }
        None => return Err(invalid(SHAPE, "no rows")),
    };
    Ok(rows
        .iter()
        .enumerate()
        .map(|(i, row)| row_object(i, &names, row.clone()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test tables are objects"),
        }
    }

    #[test]
    fn rows_become_objects() {
        let t = table(json!({
            "name": "PrimaryResult",
            "columns": [{"name": "TimeGenerated", "type": "datetime"}, {"name": "Id", "type": "string"},
                        {"name": "Status", "type": "dynamic"}],
            "rows": [["2024-01-01T00:00:00Z", "a", "{\"errorCode\":0}"], ["2024-01-01T00:00:01Z", null, null]]
        }));
        let rows = rows_to_objects(&t).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0].as_ref().unwrap(),
            &table(
                json!({"TimeGenerated": "2024-01-01T00:00:00Z", "Id": "a", "Status": "{\"errorCode\":0}"})
            )
        );
        assert_eq!(rows[1].as_ref().unwrap().get("Id"), Some(&Value::Null));
    }

    #[test]
    fn older_layout_and_string_columns() {
        let t = table(
            json!({"TableName": "Table_0", "Columns": [{"ColumnName": "A", "DataType": "String"}, "B"],
                              "Rows": [["x", 1]]}),
        );
        let rows = rows_to_objects(&t).unwrap();
        assert_eq!(rows[0].as_ref().unwrap(), &table(json!({"A": "x", "B": 1})));
    }

    #[test]
    fn malformed_rows_are_rejected_alone() {
        let t = table(json!({"columns": [{"name": "A"}, {"name": "B"}],
                              "rows": [["x", 1], ["short"], "not a row", ["y", 2]]}));
        let rows = rows_to_objects(&t).unwrap();
        assert!(rows[0].is_ok() && rows[3].is_ok());
        assert!(
            matches!(&rows[1], Err(RecordError::Invalid { problem, .. }) if problem.contains("1 cells for 2"))
        );
        assert!(
            matches!(&rows[2], Err(RecordError::Invalid { problem, .. }) if problem.contains("not an array"))
        );
    }

    #[test]
    fn unreadable_tables() {
        for t in [
            json!({"rows": []}),
            json!({"columns": [{"name": "A"}]}),
            json!({"columns": {"name": "A"}, "rows": []}),
            json!({"columns": [{"type": "string"}], "rows": []}),
            json!({"columns": [{"name": "A"}], "rows": 3}),
        ] {
            assert!(rows_to_objects(&table(t.clone())).is_err(), "{t}");
        }
        assert_eq!(
            rows_to_objects(&table(json!({"columns": [], "rows": []}))).map(|r| r.len()),
            Ok(0)
        );
    }

    /// Sign-in rows as the query API sends them, one of them malformed.
    fn signin_table() -> Value {
        json!({
            "name": "PrimaryResult",
            "columns": [
                {"name": "Id", "type": "string"},
                {"name": "CreatedDateTime", "type": "datetime"},
                {"name": "UserPrincipalName", "type": "string"},
                {"name": "IPAddress", "type": "string"},
                {"name": "ResultType", "type": "string"},
                {"name": "Type", "type": "string"}
            ],
            "rows": [
                ["a1", "2026-11-01T10:00:00Z", "alice@contoso.com", "203.0.113.5", "0", "SigninLogs"],
                ["a2", "2026-11-01T10:01:00Z", "bob@contoso.com", "203.0.113.6", "50126", "SigninLogs"],
                ["short row"],
                ["a3", "not a time", "carol@contoso.com", "203.0.113.7", "0", "SigninLogs"]
            ]
        })
    }

    #[test]
    fn streaming_a_table_gives_what_parsing_it_whole_gives() {
        let t = signin_table();
        let mut whole = Vec::new();
        parse_table(&table(t.clone()), None, &mut whole);
        let mut streamed = Vec::new();
        assert!(parse_table_text(&t.to_string(), None, &mut streamed));
        assert_eq!(streamed, whole);
        assert_eq!(streamed.len(), 4);
        assert!(matches!(streamed[0], Item::Event(_)));
        assert!(matches!(streamed[2], Item::Rejected { row: Some(2), .. }));
        assert!(matches!(streamed[3], Item::Rejected { row: Some(3), .. }));
    }

    #[test]
    fn tables_that_cannot_be_streamed_are_left_to_the_whole_parse() {
        let rows_first = r#"{"rows": [["a"]], "columns": [{"name": "Id"}]}"#;
        let broken = r#"{"columns": [{"name": "Id"}], "rows": [["a"], "#;
        let no_rows = r#"{"columns": [{"name": "Id"}]}"#;
        let bad_column = r#"{"columns": [{"type": "string"}], "rows": [["a"]]}"#;
        for text in [rows_first, broken, no_rows, bad_column] {
            let mut out = Vec::new();
            assert!(!parse_table_text(text, None, &mut out), "{text}");
        }
    }
}
