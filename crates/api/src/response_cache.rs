//! Answers to repeated reads kept in memory: the same question from the same caller, asked
//! again before anything was written, gets the answer already computed.
//!
//! An answer is kept only when it is certain to be what the database would give again:
//! - the operation is a query whose top-level fields all read the registry (interventions,
//!   organisations, areas, sectors, needs, overlaps, gaps, coverage, who-what-where), not
//!   the caller's own account, users, API keys or the audit trail, which change without a
//!   registry write;
//! - it carries no error, and reading it wrote no audit event (a RESTRICTED record read by
//!   an outsider is audited on every read, so such answers are never kept);
//! - no write was recorded while it was computed, and writes of other processes are being
//!   heard (`Store::hears_others`).
//!
//! Any recorded write, of this process or another, moves the store's generation and so
//! retires every kept answer at once. The key is the whole caller (role, organisations,
//! scope), the document (or, for a persisted query asked for by hash, its SHA-256), the
//! operation name, the variables and the day, compared in full:
//! an answer never reaches a caller other than the one it was computed for, nor outlives
//! the day it was computed on.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use lru::LruCache;

use crate::access::Caller;

/// Top-level query fields whose answers depend only on the registry and the caller.
pub(crate) const REGISTRY_READS: &[&str] = &[
    "organisations",
    "organisation",
    "areas",
    "area",
    "sectors",
    "interventions",
    "intervention",
    "needs",
    "overlaps",
    "gaps",
    "coverage",
    "whoWhatWhere",
    "__typename",
];

/// An answer larger than this is not kept: it would push many small ones out.
const MAX_ENTRY_BYTES: usize = 1024 * 1024;

/// The kept answers, bounded by their total size.
#[derive(Clone)]
pub struct ResponseCache(Option<Arc<Mutex<Kept>>>);

struct Kept {
    entries: LruCache<u64, Entry>,
    bytes: usize,
    max_bytes: usize,
    hasher: RandomState,
    /// The newest generation seen: every entry is of it.
    generation: u64,
}

impl Kept {
    /// Whether answers of `generation` may be kept and given: not those of a request that
    /// began before a newer write was seen. A newer generation retires every entry at once,
    /// so memory holds only answers that can still be given.
    fn current(&mut self, generation: u64) -> bool {
        if generation > self.generation {
            self.entries.clear();
            self.bytes = 0;
            self.generation = generation;
        }
        generation == self.generation
    }
}

struct Entry {
    key: String,
    operation: Arc<str>,
    body: Bytes,
}

/// A kept answer, with the operation label its metrics are counted under.
pub(crate) struct Hit {
    pub operation: Arc<str>,
    pub body: Bytes,
}

/// What one request's execution found out about keeping its answer, shared between the
/// handler and the schema (request data).
#[derive(Default)]
pub(crate) struct Verdict {
    registry_query: AtomicBool,
    audited: AtomicBool,
    operation: Mutex<Option<Arc<str>>>,
}

impl Verdict {
    /// Set once the document is measured: the operation to run, and whether it only reads
    /// the registry.
    pub(crate) fn operation(&self, label: &str, registry_query: bool) {
        self.registry_query.store(registry_query, Ordering::SeqCst);
        *self.operation.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::from(label));
    }

    /// Set when reading wrote to the audit trail: the next read must write again.
    pub(crate) fn audited(&self) {
        self.audited.store(true, Ordering::SeqCst);
    }

    fn keepable(&self) -> Option<Arc<str>> {
        if !self.registry_query.load(Ordering::SeqCst) || self.audited.load(Ordering::SeqCst) {
            return None;
        }
        self.operation
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// What names a request's document in a key.
enum Document<'a> {
    /// The text sent.
    Text(&'a str),
    /// A persisted query asked for by its hash alone: the schema finds the text it was
    /// registered with, and a registration checks that the hash is the text's SHA-256, so
    /// one hash always names one document.
    Persisted(&'a str),
}

impl<'a> Document<'a> {
    /// None when the answer must be computed: a request with other extensions, or one
    /// that registers a persisted query (the registration must reach the schema).
    fn of(request: &'a async_graphql::Request) -> Option<Self> {
        let extensions = &request.extensions.0;
        if extensions.is_empty() {
            return (!request.query.is_empty()).then_some(Document::Text(&request.query));
        }
        if extensions.len() != 1 || !request.query.is_empty() {
            return None;
        }
        let async_graphql::Value::Object(persisted) = extensions.get("persistedQuery")? else {
            return None;
        };
        if persisted.len() != 2 || persisted.get("version")? != &async_graphql::Value::from(1) {
            return None;
        }
        match persisted.get("sha256Hash")? {
            async_graphql::Value::String(hash) => Some(Document::Persisted(hash)),
            _ => None,
        }
    }
}

impl std::fmt::Display for Document<'_> {
    /// Tagged, so no text can read as a hash.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Document::Text(text) => write!(f, "text\u{0}{text}"),
            Document::Persisted(hash) => write!(f, "sha256\u{0}{hash}"),
        }
    }
}

/// Where a request's answer would be kept: computed before the request runs.
pub(crate) struct Slot {
    key: String,
    hash: u64,
    generation: u64,
}

impl ResponseCache {
    /// A cache of at most `max_bytes` of answers; zero turns it off.
    pub fn new(max_bytes: usize) -> Self {
        if max_bytes == 0 {
            return ResponseCache(None);
        }
        ResponseCache(Some(Arc::new(Mutex::new(Kept {
            entries: LruCache::unbounded(),
            bytes: 0,
            max_bytes,
            hasher: RandomState::new(),
            generation: 0,
        }))))
    }

    pub fn off() -> Self {
        ResponseCache(None)
    }

    /// The slot of a request, if its answer could be kept: one operation sent as JSON, with
    /// its document or a persisted query's hash alone, and no upload. `introspection` is
    /// whether this caller may introspect.
    pub(crate) fn slot(
        &self,
        request: &async_graphql::Request,
        caller: &Caller,
        introspection: bool,
        generation: u64,
    ) -> Option<Slot> {
        let kept = self.0.as_ref()?;
        if !request.uploads.is_empty() {
            return None;
        }
        let document = Document::of(request)?;
        let variables = serde_json::to_string(&request.variables).ok()?;
        // Debug output of the principal names every field that decides what it may read;
        // gaps depend on today's date (the current year, what ends soon).
        let key = format!(
            "{}\u{0}{:?}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{document}",
            chrono::Utc::now().date_naive(),
            caller.principal,
            caller.public_read,
            introspection,
            request.operation_name.as_deref().unwrap_or(""),
            variables,
        );
        let hash = kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .hasher
            .hash_one(&key);
        Some(Slot {
            key,
            hash,
            generation,
        })
    }

    /// The kept answer for a slot, if it was computed at the current generation.
    pub(crate) fn get(&self, slot: &Slot) -> Option<Hit> {
        let mut kept = self.0.as_ref()?.lock().unwrap_or_else(|e| e.into_inner());
        if !kept.current(slot.generation) {
            return None;
        }
        let entry = kept.entries.get(&slot.hash)?;
        if entry.key != slot.key {
            return None;
        }
        Some(Hit {
            operation: entry.operation.clone(),
            body: entry.body.clone(),
        })
    }

    /// Keeps an answer if the verdict allows it and nothing was written while it was
    /// computed (`generation_after` is the generation once it was).
    pub(crate) fn put(
        &self,
        slot: Slot,
        verdict: &Verdict,
        response: &async_graphql::Response,
        generation_after: u64,
    ) -> bool {
        let Some(kept) = self.0.as_ref() else {
            return false;
        };
        if generation_after != slot.generation || !response.is_ok() {
            return false;
        }
        let Some(operation) = verdict.keepable() else {
            return false;
        };
        let Ok(body) = serde_json::to_vec(response) else {
            return false;
        };
        let size = slot.key.len() + body.len();
        let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
        if size > MAX_ENTRY_BYTES.min(kept.max_bytes) || !kept.current(slot.generation) {
            return false;
        }
        let replaced = kept.entries.put(
            slot.hash,
            Entry {
                key: slot.key,
                operation,
                body: Bytes::from(body),
            },
        );
        kept.bytes += size;
        kept.bytes -= replaced.map_or(0, |e| e.key.len() + e.body.len());
        while kept.bytes > kept.max_bytes {
            match kept.entries.pop_lru() {
                Some((_, e)) => kept.bytes -= e.key.len() + e.body.len(),
                None => break,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_domain::access::{Principal, Role, UserId};
    use concord_domain::organisation::OrganisationId;

    fn caller(organisation: i64) -> Caller {
        let mut caller = Caller::anonymous(false);
        caller.principal = Principal::User {
            id: UserId(organisation),
            role: Role::Viewer,
            organisations: vec![OrganisationId(organisation)],
            scope: Default::default(),
        };
        caller
    }

    fn answered(verdict: &Verdict) -> async_graphql::Response {
        verdict.operation("List", true);
        async_graphql::Response::new(
            async_graphql::Value::from_json(
                serde_json::json!({ "interventions": { "totalCount": 3 } }),
            )
            .unwrap(),
        )
    }

    #[test]
    fn an_answer_is_kept_for_its_caller_and_generation_only() {
        let cache = ResponseCache::new(1 << 20);
        let request = async_graphql::Request::new("{ interventions { totalCount } }");
        let verdict = Verdict::default();
        let slot = cache.slot(&request, &caller(1), true, 7).unwrap();
        assert!(cache.get(&slot).is_none());
        assert!(cache.put(slot, &verdict, &answered(&verdict), 7));
        let again = cache.slot(&request, &caller(1), true, 7).unwrap();
        let hit = cache.get(&again).expect("kept");
        assert_eq!(&*hit.operation, "List");
        assert!(
            std::str::from_utf8(&hit.body)
                .unwrap()
                .contains("totalCount")
        );
        // Another organisation's viewer asks the same question: not the same answer.
        assert!(
            cache
                .get(&cache.slot(&request, &caller(2), true, 7).unwrap())
                .is_none()
        );
        // Other variables, another question.
        let other = async_graphql::Request::new("{ interventions { totalCount } }").variables(
            async_graphql::Variables::from_json(serde_json::json!({ "a": 1 })),
        );
        assert!(
            cache
                .get(&cache.slot(&other, &caller(1), true, 7).unwrap())
                .is_none()
        );
        // A write since: gone, and a request that began before it keeps nothing.
        assert!(
            cache
                .get(&cache.slot(&request, &caller(1), true, 8).unwrap())
                .is_none()
        );
        assert!(
            cache
                .get(&cache.slot(&request, &caller(1), true, 7).unwrap())
                .is_none()
        );
        let late = cache.slot(&request, &caller(1), true, 7).unwrap();
        assert!(!cache.put(late, &verdict, &answered(&verdict), 7));
        assert_eq!(cache.0.as_ref().unwrap().lock().unwrap().bytes, 0);
    }

    #[test]
    fn answers_written_around_or_audited_or_failed_are_not_kept() {
        let cache = ResponseCache::new(1 << 20);
        let request = async_graphql::Request::new("{ interventions { totalCount } }");
        // A write landed while it was computed.
        let verdict = Verdict::default();
        let slot = cache.slot(&request, &caller(1), true, 1).unwrap();
        assert!(!cache.put(slot, &verdict, &answered(&verdict), 2));
        // The read was audited.
        let verdict = Verdict::default();
        let response = answered(&verdict);
        verdict.audited();
        let slot = cache.slot(&request, &caller(1), true, 1).unwrap();
        assert!(!cache.put(slot, &verdict, &response, 1));
        // Not only registry reads.
        let verdict = Verdict::default();
        let response = answered(&verdict);
        verdict.operation("Me", false);
        let slot = cache.slot(&request, &caller(1), true, 1).unwrap();
        assert!(!cache.put(slot, &verdict, &response, 1));
        // An error.
        let verdict = Verdict::default();
        verdict.operation("List", true);
        let failed =
            async_graphql::Response::from_errors(vec![async_graphql::ServerError::new("no", None)]);
        let slot = cache.slot(&request, &caller(1), true, 1).unwrap();
        assert!(!cache.put(slot, &verdict, &failed, 1));
        // Never measured (refused before execution).
        let verdict = Verdict::default();
        let slot = cache.slot(&request, &caller(1), true, 1).unwrap();
        let ok = async_graphql::Response::new(async_graphql::Value::Null);
        assert!(!cache.put(slot, &verdict, &ok, 1));
        assert!(
            cache
                .get(&cache.slot(&request, &caller(1), true, 1).unwrap())
                .is_none()
        );
    }

    #[test]
    fn the_size_bound_evicts_the_least_recently_used() {
        let entry_size = {
            let cache = ResponseCache::new(1 << 20);
            let verdict = Verdict::default();
            let request = async_graphql::Request::new("{ a0: interventions { totalCount } }");
            let slot = cache.slot(&request, &caller(1), true, 1).unwrap();
            let key = slot.key.len();
            key + serde_json::to_vec(&answered(&verdict)).unwrap().len()
        };
        let cache = ResponseCache::new(entry_size * 3);
        let ask = |i: usize| {
            async_graphql::Request::new(format!("{{ a{i}: interventions {{ totalCount }} }}"))
        };
        for i in 0..5 {
            let verdict = Verdict::default();
            let slot = cache.slot(&ask(i), &caller(1), true, 1).unwrap();
            assert!(cache.put(slot, &verdict, &answered(&verdict), 1));
        }
        let kept: Vec<bool> = (0..5)
            .map(|i| {
                cache
                    .get(&cache.slot(&ask(i), &caller(1), true, 1).unwrap())
                    .is_some()
            })
            .collect();
        assert_eq!(kept, [false, false, true, true, true]);
        assert!(
            ResponseCache::off()
                .slot(&ask(0), &caller(1), true, 1)
                .is_none()
        );
        // Registering a persisted query must reach the schema.
        let mut persisted = ask(0);
        persisted.extensions.0.insert(
            "persistedQuery".to_owned(),
            async_graphql::Value::from_json(serde_json::json!({ "version": 1 })).unwrap(),
        );
        assert!(cache.slot(&persisted, &caller(1), true, 1).is_none());
    }

    fn by_hash(hash: &str, extra: Option<(&str, serde_json::Value)>) -> async_graphql::Request {
        let mut request = async_graphql::Request::new("");
        let mut persisted = serde_json::json!({ "version": 1, "sha256Hash": hash });
        if let Some((name, value)) = extra {
            persisted[name] = value;
        }
        request.extensions.0.insert(
            "persistedQuery".to_owned(),
            async_graphql::Value::from_json(persisted).unwrap(),
        );
        request
    }

    #[test]
    fn a_persisted_query_asked_by_hash_is_kept_under_its_hash_and_caller() {
        let cache = ResponseCache::new(1 << 20);
        let hash = "a".repeat(64);
        let kept = |request: &async_graphql::Request, organisation: i64| {
            let verdict = Verdict::default();
            let slot = cache.slot(request, &caller(organisation), true, 1).unwrap();
            cache.put(slot, &verdict, &answered(&verdict), 1)
        };
        assert!(kept(&by_hash(&hash, None), 1));
        let hit = |request: &async_graphql::Request, organisation: i64| {
            cache
                .slot(request, &caller(organisation), true, 1)
                .and_then(|slot| cache.get(&slot))
                .is_some()
        };
        assert!(hit(&by_hash(&hash, None), 1));
        // Not to another caller, nor under another hash, nor as a text equal to the hash.
        assert!(!hit(&by_hash(&hash, None), 2));
        assert!(!hit(&by_hash(&"b".repeat(64), None), 1));
        assert!(!hit(&async_graphql::Request::new(hash.clone()), 1));
        // An extension the cache does not know of, or another version: always computed.
        let other = by_hash(&hash, Some(("extra", serde_json::json!(true))));
        assert!(cache.slot(&other, &caller(1), true, 1).is_none());
        let mut version_2 = by_hash(&hash, None);
        version_2.extensions.0.insert(
            "persistedQuery".to_owned(),
            async_graphql::Value::from_json(
                serde_json::json!({ "version": 2, "sha256Hash": hash }),
            )
            .unwrap(),
        );
        assert!(cache.slot(&version_2, &caller(1), true, 1).is_none());
        let mut also = by_hash(&hash, None);
        also.extensions
            .0
            .insert("tracing".to_owned(), async_graphql::Value::from(true));
        assert!(cache.slot(&also, &caller(1), true, 1).is_none());
    }
}
