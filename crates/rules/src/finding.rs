//! The parts of a finding derived from its evidence event: the entities with their roles and
//! the one-sentence summary.

use rsigma_eval::{Event as SigmaEvent, EventValue};
use serde_json::Value;
use skein_model::{EntityRef, EntityRole, EntityType, Event, FindingEntity, Source};

use crate::rule::Rule;
use crate::view::EventView;

fn push(
    out: &mut Vec<FindingEntity>,
    ty: EntityType,
    id: Option<&str>,
    role: EntityRole,
    name: Option<&str>,
) {
    let Some(r) = id.and_then(|id| EntityRef::new(ty, id)) else {
        return;
    };
    if out.iter().any(|e| e.entity_type == ty && e.id == r.id) {
        return;
    }
    out.push(FindingEntity {
        entity_type: ty,
        id: r.id,
        role,
        name: name.map(str::to_string),
    });
}

/// The entities of a single-event finding, with roles: the account that signed in or acted
/// (`actor` when it succeeded, `target` when it failed: a failed attempt says nothing about
/// who controls the account), the address (`source`), and the application, tenant, storage
/// account or AWS account involved (`resource`).
pub fn entities(e: &Event) -> Vec<FindingEntity> {
    entities_with(e, true)
}

/// [`entities`], without the `resource` ones when `resources` is false (multi-event findings
/// name who acted, from where and whom it targeted; their evidence is many events, whose
/// applications and tenants would only crowd the list).
pub fn entities_with(e: &Event, resources: bool) -> Vec<FindingEntity> {
    let mut out = Vec::new();
    let account_role = if e.outcome.success {
        EntityRole::Actor
    } else {
        EntityRole::Target
    };
    let ip = e.src_ip.map(|ip| ip.to_string());
    let a = &e.actor;
    let (src, res) = (EntityRole::Source, EntityRole::Resource);
    // (type, id, role, readable name), in the order they are listed; repeats are dropped.
    let candidates: Vec<(EntityType, Option<&str>, EntityRole, Option<&str>)> = match e.source {
        Source::EntraSignin | Source::StorageBlob => {
            let (user, name) = match (&a.user_id, &a.upn) {
                (Some(id), upn) => (Some(id.as_str()), upn.as_deref()),
                (None, upn) => (upn.as_deref(), None),
            };
            let app_name = a.app_name.as_deref();
            vec![
                (EntityType::User, user, account_role, name),
                (
                    EntityType::App,
                    a.service_principal_id.as_deref(),
                    account_role,
                    app_name,
                ),
                (EntityType::Ip, ip.as_deref(), src, None),
                (EntityType::App, a.app_id.as_deref(), res, app_name),
                (
                    EntityType::Storage,
                    e.target.storage_account.as_deref(),
                    res,
                    None,
                ),
                (EntityType::Tenant, e.tenants.resource.as_deref(), res, None),
                (EntityType::Tenant, e.tenants.home.as_deref(), res, None),
            ]
        }
        Source::Cloudtrail => {
            let session = a.role_session_name.as_ref().and(a.aws_arn.as_deref());
            vec![
                (
                    EntityType::AwsPrincipal,
                    a.aws_arn.as_deref(),
                    account_role,
                    a.aws_user_name.as_deref(),
                ),
                (
                    EntityType::AwsKey,
                    a.access_key_id.as_deref(),
                    account_role,
                    None,
                ),
                (
                    EntityType::AwsSession,
                    session,
                    account_role,
                    a.role_session_name.as_deref(),
                ),
                (EntityType::Ip, ip.as_deref(), src, None),
            ]
        }
    };
    for (ty, id, role, name) in candidates {
        if resources || role != EntityRole::Resource {
            push(&mut out, ty, id, role, name);
        }
    }
    out
}

/// A field value as text for a summary: lists joined with `, `.
fn value_text(v: &EventValue<'_>) -> String {
    match v {
        EventValue::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(", "),
        EventValue::Null => "-".into(),
        other => other.as_str().map(|s| s.into_owned()).unwrap_or_default(),
    }
}

/// Who acted, for the default summary.
fn actor_text(e: &Event) -> String {
    let a = &e.actor;
    a.upn
        .clone()
        .or_else(|| a.user_id.clone())
        .or_else(|| a.aws_arn.clone())
        .or_else(|| a.access_key_id.clone())
        .or_else(|| a.app_name.clone())
        .unwrap_or_else(|| "an unknown actor".into())
}

/// A finding field as text: lists joined with `, `, `-` when empty.
pub(crate) fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "-".into(),
        Value::Array(items) => items.iter().map(json_text).collect::<Vec<_>>().join(", "),
        Value::Null => "-".into(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.abs() < 100.0 && f.fract() != 0.0 => format!("{f:.1}"),
            Some(f) if n.is_f64() => format!("{f:.0}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// `template` with every `{name}` replaced by `fill(name)`; an unclosed `{` is kept as is.
pub(crate) fn fill_template(template: &str, mut fill: impl FnMut(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        out.push_str(&fill(&after[..close]));
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The finding's summary: the rule's `skein.summary` template with `{field}` replaced by the
/// event's values (`-` when absent), `{fields.NAME}` by the finding's own fields (such as
/// `threat_score` or `matched`) and `{actor}` by whoever acted; or a default sentence.
pub fn render_summary(
    rule: &Rule,
    view: &EventView<'_>,
    fields: &serde_json::Map<String, Value>,
) -> String {
    let e = view.event();
    let Some(template) = &rule.summary else {
        let from = e.src_ip.map(|ip| format!(" from {ip}")).unwrap_or_default();
        return format!(
            "{}: {}{from} at {}",
            rule.title,
            actor_text(e),
            e.time.to_rfc3339()
        );
    };
    fill_template(template, |name| {
        if name == "actor" {
            actor_text(e)
        } else if let Some(f) = name.strip_prefix("fields.") {
            fields.get(f).map_or_else(|| "-".into(), json_text)
        } else {
            view.get_field(name)
                .map(|v| value_text(&v))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "-".into())
        }
    })
}
