//! The parts of a finding derived from its evidence event: the entities with their roles and
//! the one-sentence summary.

use rsigma_eval::{Event as SigmaEvent, EventValue};
use serde_json::Value;
use skein_model::{EntityRef, EntityRole, EntityType, Event, FindingEntity, Source};

use crate::rule::Rule;
use crate::view::EventView;

/// Where [`entities_of`] puts the entities an event names: a list for a finding, or a
/// signal's packed entities.
pub(crate) trait EntitySink {
    /// True when entity `id` of type `ty` is there already.
    fn has(&self, ty: EntityType, id: &str) -> bool;
    fn add(&mut self, ty: EntityType, id: &str, role: EntityRole, name: Option<&str>);
}

impl EntitySink for Vec<FindingEntity> {
    fn has(&self, ty: EntityType, id: &str) -> bool {
        self.iter().any(|e| e.entity_type == ty && e.id == id)
    }

    fn add(&mut self, ty: EntityType, id: &str, role: EntityRole, name: Option<&str>) {
        self.push(FindingEntity {
            entity_type: ty,
            id: id.to_string(),
            role,
            name: name.map(str::to_string),
        });
    }
}

/// Adds entity `id` of type `ty` unless it is there already; `canonical` when `id` is in its
/// canonical form already (an address formatted from an `IpAddr`: parsing and formatting it
/// again would give the same text).
fn push(
    out: &mut impl EntitySink,
    ty: EntityType,
    id: Option<&str>,
    canonical: bool,
    role: EntityRole,
    name: Option<&str>,
) {
    let made;
    let id = match id {
        Some(id) if (canonical && !id.is_empty()) || ty.is_canonical(id) => id,
        Some(id) => match EntityRef::new(ty, id) {
            Some(r) => {
                made = r.id;
                made.as_str()
            }
            None => return,
        },
        None => return,
    };
    if !out.has(ty, id) {
        out.add(ty, id, role, name);
    }
}

/// The entities an event names, with roles: the account that signed in or acted (`actor`
/// when it succeeded, `target` when it failed: a failed attempt says nothing about who
/// controls the account), the address (`source`), and the application, tenant, storage
/// account or AWS account involved (`resource`, only when `resources`: multi-event findings
/// name who acted, from where and whom it targeted; their evidence is many events, whose
/// applications and tenants would only crowd the list).
pub fn entities_with(e: &Event, resources: bool) -> Vec<FindingEntity> {
    let ip = e.src_ip.map(|ip| ip.to_string());
    let mut out = Vec::with_capacity(4);
    entities_of(e, ip.as_deref(), resources, &mut out);
    out
}

/// [`entities_with`] for the event `view` shows, with the address text it formatted already.
pub(crate) fn entities_listed(view: &EventView<'_>, resources: bool) -> Vec<FindingEntity> {
    let mut out = Vec::with_capacity(4);
    entities_in(view, resources, &mut out);
    out
}

/// [`entities_listed`] into `out`.
pub(crate) fn entities_in(view: &EventView<'_>, resources: bool, out: &mut impl EntitySink) {
    entities_of(view.event(), view.ip_text(), resources, out);
}

/// An entity an event may name: type, id, whether the id is canonical already, role and
/// readable name.
type Candidate<'a> = (
    EntityType,
    Option<&'a str>,
    bool,
    EntityRole,
    Option<&'a str>,
);

/// [`entities_with`], `ip` being `e`'s source address formatted.
fn entities_of(e: &Event, ip: Option<&str>, resources: bool, out: &mut impl EntitySink) {
    let account_role = if e.outcome.success {
        EntityRole::Actor
    } else {
        EntityRole::Target
    };
    let a = &e.actor;
    let (src, res) = (EntityRole::Source, EntityRole::Resource);
    // (type, id, whether the id is canonical already, role, readable name), in the order
    // they are listed; repeats are dropped, and so are the `None` ids that pad the AWS list.
    let none = (EntityType::Tenant, None, false, res, None);
    let candidates: [Candidate<'_>; 7] = match e.source {
        Source::EntraSignin | Source::StorageBlob => {
            let (user, name) = match (&a.user_id, &a.upn) {
                (Some(id), upn) => (Some(id.as_str()), upn.as_deref()),
                (None, upn) => (upn.as_deref(), None),
            };
            let app_name = a.app_name.as_deref();
            [
                (EntityType::User, user, false, account_role, name),
                (
                    EntityType::App,
                    a.service_principal_id.as_deref(),
                    false,
                    account_role,
                    app_name,
                ),
                (EntityType::Ip, ip, true, src, None),
                (EntityType::App, a.app_id.as_deref(), false, res, app_name),
                (
                    EntityType::Storage,
                    e.target.storage_account.as_deref(),
                    false,
                    res,
                    None,
                ),
                (
                    EntityType::Tenant,
                    e.tenants.resource.as_deref(),
                    false,
                    res,
                    None,
                ),
                (
                    EntityType::Tenant,
                    e.tenants.home.as_deref(),
                    false,
                    res,
                    None,
                ),
            ]
        }
        Source::Cloudtrail => {
            let session = a.role_session_name.as_ref().and(a.aws_arn.as_deref());
            [
                (
                    EntityType::AwsPrincipal,
                    a.aws_arn.as_deref(),
                    false,
                    account_role,
                    a.aws_user_name.as_deref(),
                ),
                (
                    EntityType::AwsKey,
                    a.access_key_id.as_deref(),
                    false,
                    account_role,
                    None,
                ),
                (
                    EntityType::AwsSession,
                    session,
                    false,
                    account_role,
                    a.role_session_name.as_deref(),
                ),
                (EntityType::Ip, ip, true, src, None),
                none,
                none,
                none,
            ]
        }
    };
    for (ty, id, canonical, role, name) in candidates {
        if resources || role != EntityRole::Resource {
            push(out, ty, id, canonical, role, name);
        }
    }
}

/// Appends a field value as text for a summary: lists joined with `, `.
fn push_value_text(v: &EventValue<'_>, out: &mut String) {
    match v {
        EventValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_value_text(item, out);
            }
        }
        EventValue::Null => out.push('-'),
        other => {
            if let Some(text) = other.as_str() {
                out.push_str(&text);
            }
        }
    }
}

/// Who acted, for the default summary.
fn actor_text(e: &Event) -> &str {
    let a = &e.actor;
    a.upn
        .as_deref()
        .or(a.user_id.as_deref())
        .or(a.aws_arn.as_deref())
        .or(a.access_key_id.as_deref())
        .or(a.app_name.as_deref())
        .unwrap_or("an unknown actor")
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
    fill_template_into(template, &mut out, |name, out| out.push_str(&fill(name)));
    out
}

/// [`fill_template`] appended to `out`, `fill` appending each name's text.
fn fill_template_into(template: &str, out: &mut String, mut fill: impl FnMut(&str, &mut String)) {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        fill(&after[..close], out);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
}

/// The finding's summary: the rule's `skein.summary` template with `{field}` replaced by the
/// event's values (`-` when absent), `{fields.NAME}` by the finding's own fields (such as
/// `threat_score` or `matched`) and `{actor}` by whoever acted; or a default sentence.
pub fn render_summary(
    rule: &Rule,
    view: &EventView<'_>,
    fields: &serde_json::Map<String, Value>,
) -> String {
    let mut out = String::new();
    render_summary_into(rule, view, &|f| fields.get(f).map(json_text), &mut out);
    out
}

/// [`render_summary`] appended to `out` (a buffer kept from one finding to the next), the
/// finding's field `name` shown as `field_text(name)` gives it.
pub(crate) fn render_summary_into(
    rule: &Rule,
    view: &EventView<'_>,
    field_text: &dyn Fn(&str) -> Option<String>,
    out: &mut String,
) {
    use std::fmt::Write as _;
    let e = view.event();
    let Some(template) = &rule.summary else {
        // (Writing to a String cannot fail.)
        let _ = write!(out, "{}: {}", rule.title, actor_text(e));
        if let Some(ip) = e.src_ip {
            let _ = write!(out, " from {ip}");
        }
        let _ = write!(out, " at {}", e.time.to_rfc3339());
        return;
    };
    out.reserve(template.len() + 32);
    fill_template_into(template, out, |name, out| {
        if name == "actor" {
            out.push_str(actor_text(e));
        } else if let Some(f) = name.strip_prefix("fields.") {
            match field_text(f) {
                Some(text) => out.push_str(&text),
                None => out.push('-'),
            }
        } else {
            let before = out.len();
            if let Some(v) = view.get_field(name) {
                push_value_text(&v, out);
            }
            if out.len() == before {
                out.push('-');
            }
        }
    })
}

/// Buffers kept from one finding written straight to JSON to the next.
#[derive(Default)]
pub struct FindingScratch {
    /// The evidence key (`source|id`) the finding's id is made from.
    pub(crate) key: String,
    pub(crate) summary: String,
    /// The entities written so far: type and where the id is in `ids`.
    seen: Vec<(EntityType, std::ops::Range<usize>)>,
    ids: String,
}

/// Entities written as a finding's JSON `entities` as they are found (see
/// [`FindingEntity::write_parts_json`]), in the order and with the repeats dropped as a
/// `Vec<FindingEntity>` holds them.
pub(crate) struct EntitiesJson<'a> {
    out: &'a mut Vec<u8>,
    scratch: &'a mut FindingScratch,
}

impl<'a> EntitiesJson<'a> {
    /// Starts the list (`[`); [`EntitiesJson::finish`] closes it.
    pub(crate) fn start(out: &'a mut Vec<u8>, scratch: &'a mut FindingScratch) -> Self {
        scratch.seen.clear();
        scratch.ids.clear();
        out.push(b'[');
        EntitiesJson { out, scratch }
    }

    pub(crate) fn finish(self) {
        self.out.push(b']');
    }
}

impl EntitySink for EntitiesJson<'_> {
    fn has(&self, ty: EntityType, id: &str) -> bool {
        let ids = &self.scratch.ids;
        self.scratch
            .seen
            .iter()
            .any(|(t, at)| *t == ty && ids.get(at.clone()) == Some(id))
    }

    fn add(&mut self, ty: EntityType, id: &str, role: EntityRole, name: Option<&str>) {
        if !self.scratch.seen.is_empty() {
            self.out.push(b',');
        }
        let from = self.scratch.ids.len();
        self.scratch.ids.push_str(id);
        self.scratch.seen.push((ty, from..self.scratch.ids.len()));
        FindingEntity::write_parts_json(self.out, ty, id, role, name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use skein_model::WireShape;

    proptest! {
        /// The entities of an event are the same whether its address is formatted here or
        /// taken from the view (where rules formatted it already), for any address.
        #[test]
        fn entities_from_the_view_equal_entities_from_the_event(
            source in prop::sample::select(Source::ALL.to_vec()),
            success in any::<bool>(),
            ip in prop::option::of(any::<std::net::IpAddr>()),
            user in prop::option::of("[a-zA-Z0-9@. ]{0,12}"),
            upn in prop::option::of("[a-zA-Z0-9@. ]{0,12}"),
            key in prop::option::of("[a-zA-Z0-9]{0,8}"),
            arn in prop::option::of("[a-z:/0-9]{0,12}"),
            resources in any::<bool>(),
        ) {
            let mut e = Event::new(
                "e".into(), source, WireShape::GraphSignin, chrono::DateTime::UNIX_EPOCH,
            );
            e.outcome.success = success;
            e.src_ip = ip;
            e.actor.user_id = user;
            e.actor.upn = upn;
            e.actor.access_key_id = key;
            e.actor.aws_arn = arn.clone();
            e.actor.role_session_name = arn;
            let view = EventView::new(&e);
            let from_event = entities_with(&e, resources);
            prop_assert_eq!(&entities_listed(&view, resources), &from_event);
            // Packed for a signal, the same entities.
            let mut packer = crate::correlation::packed::Packer::default();
            entities_in(&view, resources, &mut packer);
            prop_assert_eq!(crate::correlation::EntitiesRef::new(packer.bytes()).to_vec(), from_event.clone());
            // The address is canonical as formatted: what a parse would make of it.
            for ent in from_event.iter().filter(|x| x.entity_type == EntityType::Ip) {
                prop_assert_eq!(
                    Some(ent.id.clone()),
                    EntityType::Ip.canonical_id(&ent.id)
                );
            }
        }
    }
}
