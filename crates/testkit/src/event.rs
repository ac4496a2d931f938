//! A generated event on its way to a sink: the logical record, its time, the wire shape chosen
//! for it, and (for scenario and false-positive events) the manifest entry it belongs to.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::blob::BlobOp;
use crate::cloudtrail::CtRecord;
use crate::population::Population;
use crate::rng::Rng;
use crate::signin::{SignIn, SignInKind};
use crate::writers::Shape;

pub enum Payload {
    SignIn(Box<SignIn>),
    Blob(Box<BlobOp>),
    Ct(Box<CtRecord>),
}

impl Payload {
    pub fn time(&self) -> i64 {
        match self {
            Payload::SignIn(s) => s.time,
            Payload::Blob(b) => b.time,
            Payload::Ct(c) => c.time,
        }
    }

    pub fn source(&self) -> Source {
        match self {
            Payload::SignIn(_) => Source::Entra,
            Payload::Blob(_) => Source::Blob,
            Payload::Ct(_) => Source::CloudTrail,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Source {
    Entra,
    Blob,
    CloudTrail,
}

impl Source {
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Membership of an event in a manifest scenario.
#[derive(Clone, Debug)]
pub struct Tag {
    pub scenario: usize,
    pub label: Cow<'static, str>,
}

pub struct Ev {
    pub seq: u64,
    pub shape: Shape,
    pub tag: Option<Tag>,
    pub payload: Payload,
}

impl Ev {
    pub fn time(&self) -> i64 {
        self.payload.time()
    }
}

impl PartialEq for Ev {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ev {}
impl PartialOrd for Ev {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ev {
    /// Reversed, so a `BinaryHeap<Ev>` pops the earliest event first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time(), other.seq).cmp(&(self.time(), self.seq))
    }
}

/// Picks a wire shape for a payload with the corpus mix. Tagged events never go to the v1.0
/// Graph array, which lacks the beta fields (tenants, authentication requirement) they need.
pub fn route(rng: &mut Rng, pop: &Population, p: &Payload, tagged: bool) -> Shape {
    use Shape::*;
    match p {
        Payload::SignIn(s) => match s.kind {
            SignInKind::Interactive => {
                let v1 = if tagged { 0 } else { 6 };
                *rng.pick_w(&[
                    (GraphPage, 22),
                    (GraphArrayV1, v1),
                    (GraphNdjson, 10),
                    (LaSigninNdjson, 18),
                    (LaSigninArray, 4),
                    (LaQuerySignin, 10),
                    (DiagRecords, 15),
                    (DiagJsonl, 15),
                ])
            }
            SignInKind::NonInteractive => *rng.pick_w(&[
                (GraphPage, 15),
                (GraphNdjson, 8),
                (LaNonInteractiveNdjson, 35),
                (LaQueryNonInteractive, 12),
                (DiagRecords, 15),
                (DiagJsonl, 15),
            ]),
            SignInKind::ServicePrincipal => *rng.pick_w(&[
                (GraphPage, 25),
                (GraphNdjson, 10),
                (DiagRecords, 35),
                (DiagJsonl, 30),
            ]),
        },
        Payload::Blob(_) => *rng.pick_w(&[(BlobLaNdjson, 40), (BlobLaQuery, 10), (BlobDiag, 50)]),
        Payload::Ct(c) => {
            let s = *rng.pick_w(&[
                (CtTrail, 45),
                (CtLookup, 5),
                (CtNdjson, 15),
                (CtArray, 5),
                (CtEventBridge, 15),
                (CtLogstash, 15),
            ]);
            trail_shape(
                pop,
                c.account,
                if s == CtLookup && !c.management {
                    CtNdjson
                } else {
                    s
                },
            )
        }
    }
}

/// Trail files of accounts under an organization trail are the org-trail shape.
pub fn trail_shape(pop: &Population, account: usize, s: Shape) -> Shape {
    match s {
        Shape::CtTrail | Shape::CtOrgTrail => {
            if pop.aws_accounts[account].org.is_some() {
                Shape::CtOrgTrail
            } else {
                Shape::CtTrail
            }
        }
        other => other,
    }
}
