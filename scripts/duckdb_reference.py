#!/usr/bin/env python3
"""DuckDB reference for `make bench`: the same files skein ingests, read by DuckDB.

For every file of the generator's manifest, DuckDB extracts each record's own id and time
(the work skein's ingest must do at minimum: split, parse, key, de-duplicate) and counts
distinct ids per source. It prints records/s so the two can be compared side by side.
"""
import json
import sys
import time
from collections import defaultdict

import duckdb

# How each shape's files are read: (reader, path to the record array or None, id expr, time expr)
# `j` is one record as JSON.
SIGNIN_ID = "coalesce(j->>'id', j->>'Id', j->'properties'->>'id')"
SIGNIN_TIME = "coalesce(j->>'createdDateTime', j->>'CreatedDateTime', j->'properties'->>'createdDateTime', j->>'time')"
BLOB_ID = "coalesce(j->>'correlationId', j->>'CorrelationId') || '|' || coalesce(j->>'operationName', j->>'OperationName') || '|' || coalesce(j->>'time', j->>'TimeGenerated')"
BLOB_TIME = "coalesce(j->>'time', j->>'TimeGenerated')"
CT_ID = "coalesce(j->>'eventID', j->'detail'->>'eventID', j->>'EventId')"
CT_TIME = "coalesce(j->>'eventTime', j->'detail'->>'eventTime', j->>'@timestamp', j->>'EventTime')"

SHAPES = {
    "graph_beta_page": ("doc", "value", SIGNIN_ID, SIGNIN_TIME),
    "graph_v1_array": ("array", None, SIGNIN_ID, SIGNIN_TIME),
    "graph_beta_ndjson": ("lines", None, SIGNIN_ID, SIGNIN_TIME),
    "la_signinlogs_ndjson": ("lines", None, SIGNIN_ID, SIGNIN_TIME),
    "la_noninteractive_ndjson": ("lines", None, SIGNIN_ID, SIGNIN_TIME),
    "la_signinlogs_array": ("array", None, SIGNIN_ID, SIGNIN_TIME),
    "la_query_signinlogs": ("table", None, SIGNIN_ID, SIGNIN_TIME),
    "la_query_noninteractive": ("table", None, SIGNIN_ID, SIGNIN_TIME),
    "diag_records": ("doc", "records", SIGNIN_ID, SIGNIN_TIME),
    "diag_jsonl": ("lines", None, SIGNIN_ID, SIGNIN_TIME),
    "blob_la_ndjson": ("lines", None, BLOB_ID, BLOB_TIME),
    "blob_la_query": ("table", None, BLOB_ID, BLOB_TIME),
    "blob_diag_jsonl": ("lines", None, BLOB_ID, BLOB_TIME),
    "cloudtrail_trail_file": ("doc", "Records", CT_ID, CT_TIME),
    "cloudtrail_org_trail_file": ("doc", "Records", CT_ID, CT_TIME),
    "cloudtrail_lookup_events": ("doc", "Events", CT_ID, CT_TIME),
    "cloudtrail_ndjson": ("lines", None, CT_ID, CT_TIME),
    "cloudtrail_json_array": ("array", None, CT_ID, CT_TIME),
    "cloudtrail_eventbridge": ("lines", None, CT_ID, CT_TIME),
    "cloudtrail_logstash": ("lines", None, CT_ID, CT_TIME),
}


def records_sql(kind, key, files):
    lst = "[" + ",".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    if kind == "lines":
        return f"SELECT json AS j FROM read_ndjson_objects({lst}, maximum_object_size=67108864)"
    if kind == "array":
        return (f"SELECT unnest(json_extract(json, '$[*]')) AS j FROM "
                f"read_json_objects({lst}, format='unstructured', maximum_object_size=1073741824)")
    if kind == "doc":
        return (f"SELECT unnest(json_extract(json, '$.{key}[*]')) AS j FROM "
                f"read_json_objects({lst}, format='unstructured', maximum_object_size=1073741824)")
    if kind == "table":
        # Rebuild an object per row from the column names, as skein does.
        return (f"WITH t AS (SELECT unnest(json_extract(json, '$.tables[*]')) AS tb FROM "
                f"read_json_objects({lst}, format='unstructured', maximum_object_size=1073741824)), "
                f"r AS (SELECT json_extract_string(tb, '$.columns[*].name') AS names, "
                f"unnest(json_extract(tb, '$.rows[*]')) AS row FROM t) "
                f"SELECT json_object('id', row->>list_position(names, 'Id') - 1, "
                f"'CreatedDateTime', row->>list_position(names, 'CreatedDateTime') - 1, "
                f"'CorrelationId', row->>list_position(names, 'CorrelationId') - 1, "
                f"'OperationName', row->>list_position(names, 'OperationName') - 1, "
                f"'TimeGenerated', row->>list_position(names, 'TimeGenerated') - 1, "
                f"'ResultType', row->>list_position(names, 'ResultType') - 1, "
                f"'RiskLevelDuringSignIn', row->>list_position(names, 'RiskLevelDuringSignIn') - 1, "
                f"'RiskState', row->>list_position(names, 'RiskState') - 1, "
                f"'RiskEventTypes_V2', row->>list_position(names, 'RiskEventTypes_V2') - 1, "
                f"'AuthenticationRequirement', row->>list_position(names, 'AuthenticationRequirement') - 1, "
                f"'HomeTenantId', row->>list_position(names, 'HomeTenantId') - 1, "
                f"'ResourceTenantId', row->>list_position(names, 'ResourceTenantId') - 1) AS j FROM r")
    raise ValueError(kind)


# The QRadar port (seed 004) in SQL: the sign-in fields whatever the shape (Graph camelCase,
# Log Analytics PascalCase, diagnostic `properties`), compared as the AQL query does.
P = "coalesce(j->'properties', j)"
def f(camel, pascal):
    return f"coalesce({P}->>'{camel}', {P}->>'{pascal}')"
SIGNIN_FIELDS = (
    f"{SIGNIN_ID} AS id, "
    f"{SIGNIN_TIME} AS t, "
    f"lower({f('userPrincipalName', 'UserPrincipalName')}) AS upn, "
    f"{f('ipAddress', 'IPAddress')} AS ip, "
    f"coalesce({P}->'status'->>'errorCode', j->>'resultType', j->>'ResultType') AS result, "
    f"{f('riskLevelDuringSignIn', 'RiskLevelDuringSignIn')} AS level, "
    f"{f('riskState', 'RiskState')} AS state, "
    f"{f('riskEventTypes_v2', 'RiskEventTypes_V2')} AS events, "
    f"{f('authenticationRequirement', 'AuthenticationRequirement')} AS auth, "
    f"{f('homeTenantId', 'HomeTenantId')} AS home, "
    f"{f('resourceTenantId', 'ResourceTenantId')} AS resource"
)
QRADAR_WHERE = (
    "result = '0' AND (lower(level) IN ('high', 'medium') "
    "OR lower(state) IN ('atrisk', 'confirmedcompromised') "
    "OR regexp_matches(lower(coalesce(events, '')), "
    "'(impossibletravel|anonymizedipaddress|maliciousipaddress|unfamiliarfeatures|passwordspray|"
    "leakedcredentials|nationstateip|riskyipaddress|investigationsthreatintelligence)') "
    "OR (lower(auth) = 'singlefactorauthentication' AND home IS NOT NULL AND home <> '' "
    "AND home <> coalesce(resource, '')))"
)


# Sign-in addresses carry no port in Graph, Log Analytics or diagnostic records.
SPRAY_SQL = """
WITH f AS (
  SELECT DISTINCT id, ip, upn, CAST(t AS TIMESTAMP) AS t FROM signins
  WHERE result = '50126' AND ip IS NOT NULL AND upn IS NOT NULL
),
w AS (
  SELECT ip, count(DISTINCT upn) OVER (
    PARTITION BY ip ORDER BY t RANGE BETWEEN INTERVAL 10 MINUTES PRECEDING AND CURRENT ROW
  ) AS users FROM f
)
SELECT count(DISTINCT ip) FROM w WHERE users >= 5
"""


def detections(con, manifest, corpus, by_shape):
    """Answers the QRadar port's question from the files; prints flagged sign-ins and time."""
    parts = []
    for shape, files in sorted(by_shape.items()):
        if shape not in SHAPES:
            continue
        source = next(x["source"] for x in manifest["files"] if x["shape"] == shape)
        if source != "entra_signin":
            continue
        kind, key, _, _ = SHAPES[shape]
        parts.append(f"SELECT {SIGNIN_FIELDS} FROM ({records_sql(kind, key, files)})")
    started = time.time()
    con.execute("CREATE TABLE signins AS " + " UNION ALL ".join(parts))
    n, flagged = con.execute(
        f"SELECT (SELECT count(*) FROM signins), count(DISTINCT id) FROM signins WHERE {QRADAR_WHERE}"
    ).fetchone()
    elapsed = time.time() - started
    print(f"duckdb: qradar-t1586-003 over {n} sign-in records from the files: "
          f"{flagged} distinct sign-ins flagged in {elapsed:.3f}s "
          f"({n / elapsed:.0f} records/s, file reading included)")
    # password-spray: per address, a sliding 10-minute window over failures with 50126, the
    # distinct users in it; an address is flagged when some window holds five or more.
    started = time.time()
    (addresses,) = con.execute(SPRAY_SQL).fetchone()
    print(f"duckdb: password-spray over the same sign-ins (table already loaded): "
          f"{addresses} addresses with >= 5 distinct users failing 50126 within 10 minutes, "
          f"in {time.time() - started:.3f}s")


def main():
    corpus = sys.argv[1]
    manifest = json.load(open(f"{corpus}/manifest.json"))
    by_shape = defaultdict(list)
    for f in manifest["files"]:
        by_shape[f["shape"]].append(f"{corpus}/{f['path']}")
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    parts = []
    for shape, files in sorted(by_shape.items()):
        if shape not in SHAPES:
            print(f"duckdb: no reader for shape {shape}; skipped", file=sys.stderr)
            continue
        kind, key, id_expr, time_expr = SHAPES[shape]
        source = next(f["source"] for f in manifest["files"] if f["shape"] == shape)
        parts.append(f"SELECT '{source}' AS source, {id_expr} AS id, {time_expr} AS t "
                     f"FROM ({records_sql(kind, key, files)})")
    started = time.time()
    con.execute("CREATE TABLE events AS " + " UNION ALL ".join(parts))
    rows = con.execute(
        "SELECT source, count(*), count(DISTINCT id), count(t) FROM events GROUP BY source ORDER BY source"
    ).fetchall()
    elapsed = time.time() - started
    total = sum(r[1] for r in rows)
    for source, n, distinct, with_time in rows:
        print(f"duckdb: {source:<14} records={n} distinct_ids={distinct} with_time={with_time}")
    print(f"duckdb: records={total} seconds={elapsed:.3f} records_per_second={total / elapsed:.0f}")
    detections(con, manifest, corpus, by_shape)


if __name__ == "__main__":
    main()
