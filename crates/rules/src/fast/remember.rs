//! Answers of costly selections remembered, on each evaluating thread, by the text they read.
//!
//! Some selections cost far more than the rest and read a field with few distinct values:
//! the legacy-client regular expression and substring list over `clientAppUsed`, the
//! high-risk country list over the country, the 31 reconnaissance API names over CloudTrail's
//! `eventName`. Timed per selection over the bench's 2.5M events, these were 100–260 cycles
//! an event each, the five largest ~0.3 CPU-seconds of a full run, for a handful of values
//! seen millions of times; the seed rules' risk fields, compared ignoring case, cost 40–75
//! cycles each. Such a selection's answer is a function of that one text (see
//! [`value_only`]), so it is kept in a small table per selection and thread ([`Verdicts`]):
//! a hash and a comparison instead of the matcher. A field whose texts keep missing
//! (addresses, ids) turns its table off after a trial, so it costs only the trial.
//!
//! Nothing here changes an answer: a remembered answer is the one computed for the same
//! text, compared byte for byte (not by hash alone).

use std::hash::BuildHasher;

use rsigma_eval::CompiledMatcher;

/// Slots of a table (a power of two), in pairs: a text's hash picks a pair, and either slot
/// of the pair may hold it (two frequent texts that share a pair do not evict each other).
const SLOTS: usize = 128;

/// Longest text remembered (longer texts are computed every time).
const LONGEST: usize = 46;

/// A table that misses more than a quarter of its first `TRIAL` lookups is turned off (a
/// field of many values); after them, it stays as it is.
const TRIAL: u32 = 4096;

#[derive(Clone, Copy)]
struct Slot {
    hash: u64,
    /// The text's length; `u8::MAX` for an empty slot.
    len: u8,
    hit: bool,
    text: [u8; LONGEST],
}

const EMPTY: Slot = Slot {
    hash: 0,
    len: u8::MAX,
    hit: false,
    text: [0; LONGEST],
};

impl Slot {
    fn holds(&self, hash: u64, text: &str) -> bool {
        self.hash == hash
            && usize::from(self.len) == text.len()
            && self.text.get(..text.len()) == Some(text.as_bytes())
    }
}

/// One selection's remembered answers on one thread: `SLOTS` slots of 56 bytes (7 KiB),
/// made on the first answer.
#[derive(Default)]
pub(super) struct Verdicts {
    /// Empty until the first answer, and again once turned off.
    slots: Vec<Slot>,
    off: bool,
    /// Lookups and misses during the trial (not counted after it).
    lookups: u32,
    misses: u32,
}

impl Verdicts {
    /// The answer for `text`: remembered, or `compute`d (and remembered).
    #[inline]
    pub(super) fn answer(&mut self, text: &str, compute: impl FnOnce() -> bool) -> bool {
        if self.off || text.len() > LONGEST {
            return compute();
        }
        if self.lookups < TRIAL {
            self.lookups += 1;
        }
        let hash = foldhash::fast::FixedState::default().hash_one(text);
        // The pair's first slot (`SLOTS` is a power of two: the hash's low bits pick it).
        let at = (hash as usize) & (SLOTS - 2);
        for slot in self.slots.get(at..at + 2).into_iter().flatten() {
            if slot.holds(hash, text) {
                return slot.hit;
            }
        }
        let hit = compute();
        self.remember(at, hash, text, hit);
        hit
    }

    /// Keeps `text`'s answer in the first slot of its pair, what was there moving to the
    /// second (the pair holds the two texts last computed for it).
    #[cold]
    fn remember(&mut self, at: usize, hash: u64, text: &str, hit: bool) {
        if self.slots.is_empty() {
            self.slots = vec![EMPTY; SLOTS];
        }
        if let Some(pair) = self.slots.get_mut(at..at + 2) {
            pair[1] = pair[0];
            let slot = &mut pair[0];
            slot.hash = hash;
            // (`text` is at most `LONGEST` bytes.)
            slot.len = u8::try_from(text.len()).unwrap_or(u8::MAX);
            slot.hit = hit;
            if let Some(room) = slot.text.get_mut(..text.len()) {
                room.copy_from_slice(text.as_bytes());
            }
        }
        if self.lookups < TRIAL {
            self.misses += 1;
            // More than a quarter of the trial missed: a field of many values.
            if self.misses > TRIAL / 4 {
                self.off = true;
                self.slots = Vec::new();
            }
        }
    }

    /// True once the table has been turned off (its texts kept missing).
    #[cfg(test)]
    fn is_off(&self) -> bool {
        self.off
    }
}

/// True when a matcher's answer depends only on the value it is given. Unknown matchers
/// count as reading the event.
pub(super) fn value_only(m: &CompiledMatcher) -> bool {
    match m {
        // Numbers, flags, presence: answered over the value itself.
        m if !super::matching::reads_text(m) => true,
        CompiledMatcher::Exact { .. }
        | CompiledMatcher::Contains { .. }
        | CompiledMatcher::StartsWith { .. }
        | CompiledMatcher::EndsWith { .. }
        | CompiledMatcher::Regex(_)
        | CompiledMatcher::AhoCorasickSet { .. }
        | CompiledMatcher::RegexSetMatch { .. }
        | CompiledMatcher::Cidr(_) => true,
        CompiledMatcher::Not(inner) => value_only(inner),
        CompiledMatcher::AnyOf(ms)
        | CompiledMatcher::AllOf(ms)
        | CompiledMatcher::CaseInsensitiveGroup { children: ms, .. } => ms.iter().all(value_only),
        // `fieldref` and `%placeholder%` expansion read other fields; a time part is left
        // out with whatever else there is.
        _ => false,
    }
}

/// Alternatives in a list from which a matcher counts as costly.
const COSTLY_ALTERNATIVES: usize = 2;

/// True for the matchers that cost more than a hash and a comparison: regular expressions,
/// automata, networks, lists of alternatives, and equality ignoring case (which checks and
/// lower-cases the text). Measured over 250k events: remembering lists of four or more
/// alternatives and the first three kinds took rule evaluation from 3.02G to 2.65G
/// instructions; lists of two and equality ignoring case too, to 2.43G; substring, prefix
/// and suffix tests ignoring case as well gave nothing more.
pub(super) fn costly(m: &CompiledMatcher) -> bool {
    match m {
        CompiledMatcher::Regex(_)
        | CompiledMatcher::AhoCorasickSet { .. }
        | CompiledMatcher::RegexSetMatch { .. }
        | CompiledMatcher::Cidr(_) => true,
        CompiledMatcher::Not(inner) => costly(inner),
        CompiledMatcher::Exact {
            case_insensitive: true,
            ..
        } => true,
        CompiledMatcher::AnyOf(ms)
        | CompiledMatcher::AllOf(ms)
        | CompiledMatcher::CaseInsensitiveGroup { children: ms, .. } => {
            ms.len() >= COSTLY_ALTERNATIVES || ms.iter().any(costly)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A deterministic answer for a text (what a matcher would give).
    fn truth(text: &str) -> bool {
        text.bytes().map(u32::from).sum::<u32>() % 3 == 0
    }

    proptest! {
        /// Whatever the texts (colliding, long, empty, repeated), the answer is the
        /// computed one.
        #[test]
        fn answers_are_the_computed_ones(
            texts in prop::collection::vec(
                prop_oneof![
                    4 => "[a-c]{0,3}",
                    1 => "[a-z ]{40,50}",
                    1 => "[a-zé]{0,12}",
                ],
                0..600,
            )
        ) {
            let mut verdicts = Verdicts::default();
            for t in &texts {
                prop_assert_eq!(verdicts.answer(t, || truth(t)), truth(t));
            }
        }
    }

    #[test]
    fn a_repeated_text_is_computed_once() {
        let mut verdicts = Verdicts::default();
        let mut computed = 0;
        for _ in 0..1000 {
            for t in ["IMAP4", "Browser", "Exchange ActiveSync"] {
                assert_eq!(
                    verdicts.answer(t, || {
                        computed += 1;
                        t == "IMAP4"
                    }),
                    t == "IMAP4"
                );
            }
        }
        // Three texts: at most two share a pair, and a pair holds two.
        assert_eq!(computed, 3);
        assert!(!verdicts.is_off());
    }

    #[test]
    fn texts_that_keep_missing_turn_the_table_off() {
        let mut verdicts = Verdicts::default();
        for i in 0..TRIAL {
            let t = format!("10.0.{}.{}", i / 256, i % 256);
            assert_eq!(verdicts.answer(&t, || truth(&t)), truth(&t));
        }
        assert!(verdicts.is_off());
        // Still right once off.
        assert!(verdicts.answer("abc", || truth("abc")) == truth("abc"));
    }

    #[test]
    fn a_text_too_long_to_keep_is_computed_every_time() {
        let mut verdicts = Verdicts::default();
        let long = "x".repeat(LONGEST + 1);
        let mut computed = 0;
        for _ in 0..3 {
            verdicts.answer(&long, || {
                computed += 1;
                true
            });
        }
        assert_eq!(computed, 3);
    }
}
