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
        let obj = match row {
            Ok(obj) => obj,
            Err(error) => {
                out.push(Item::Rejected {
                    row: Some(i),
                    error,
                });
                continue;
            }
        };
        let raw = Value::Object(obj);
        let text = raw.to_string();
        let Value::Object(obj) = raw else {
            continue;
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
    let names = columns
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
        .collect::<Result<Vec<&str>, RecordError>>()?;
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
        .map(|(i, row)| match row {
            Value::Array(cells) if cells.len() == names.len() => Ok(names
                .iter()
                .zip(cells)
                .map(|(n, c)| ((*n).to_string(), c.clone()))
                .collect()),
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
                format!("row {i} is not an array: {}", crate::entra::short(other)),
            )),
        })
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
}
