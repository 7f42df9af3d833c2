//! Where people's names and ids sit in paths, topics and queries, so decoders never emit them.
//!
//! Face services put the person in the address: CompreFace `/api/v1/recognition/subjects/<name>`,
//! Double Take `double-take/matches/<name>` (MQTT), `?subject=<name>`. A decoder cannot tell a
//! name from an API word by its spelling, so the position decides: the segment after a
//! *collection* word (`subjects`, `persons`, `faces`, `matches`, `users`...) is a member of that
//! collection — a person or their id — and becomes `+`, unless it is one of the services' own
//! action words (`search`, `verify`, `recognize`...). Query values of identifying keys
//! (`subject`, `name`, `person_id`...) become `+` the same way. What is left is the
//! address's fixed vocabulary, which is what signatures match.

/// Words naming a collection of people, faces or their matches (compared ignoring case).
const COLLECTIONS: &[&str] = &[
    "subjects",
    "subject",
    "persons",
    "person",
    "people",
    "faces",
    "face",
    "users",
    "user",
    "employees",
    "employee",
    "members",
    "member",
    "names",
    "name",
    "matches",
    "match",
    "identities",
    "identity",
    "candidates",
    "candidate",
    "watchlistmembers",
    "faceids",
    "personid",
    "persongroups",
    "largepersongroups",
    "facelists",
    "largefacelists",
    "collections",
    "galleries",
    "gallery",
    "enrollments",
    "enrolment",
    "enrollment",
];

/// Service words that follow a collection word and are not a member of it.
const ACTIONS: &[&str] = &[
    "search",
    "verify",
    "verification",
    "recognize",
    "recognise",
    "recognition",
    "detect",
    "detection",
    "identify",
    "enroll",
    "enrol",
    "register",
    "list",
    "count",
    "all",
    "add",
    "update",
    "delete",
    "remove",
    "snapshot",
    "snapshots",
    "state",
    "set",
    "config",
    "events",
    "event",
    "image",
    "images",
    "picture",
    "photo",
    "thumbnail",
    "crop",
    "embeddings",
    "embedding",
    "train",
    "training",
    "status",
    "info",
    "capabilities",
    "attributes",
    "group",
    "groups",
    "new",
    "create",
    "faces",
    "persons",
    "matches",
    "cameras",
    "camera",
    "recent",
    "query",
    "find",
    "compare",
    "similar",
    "top",
    "best",
    "latest",
    "history",
    "access",
];

/// Query and form keys whose values name or number a person (compared ignoring case, `_`
/// and `-`).
const IDENTIFYING_KEYS: &[&str] = &[
    "subject",
    "name",
    "personname",
    "person",
    "personid",
    "userid",
    "user",
    "username",
    "employeeno",
    "employeenostring",
    "employee",
    "member",
    "memberid",
    "faceid",
    "fpid",
    "identity",
    "label",
    "sublabel",
    "cardno",
    "idcard",
    "idnumber",
    "email",
    "phone",
];

fn is_in(list: &[&str], word: &str) -> bool {
    list.iter().any(|w| w.eq_ignore_ascii_case(word))
}

/// An API version segment: `v1`, `v1.0`, `v3.2`.
fn is_version(seg: &str) -> bool {
    seg.strip_prefix(['v', 'V']).is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .split('.')
                .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// `segments` joined by `sep`, each segment after a collection word masked as `+` unless it is
/// an action word (or empty, or already a wildcard).
fn mask(text: &str, sep: char) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_collection = false;
    for (i, seg) in text.split(sep).enumerate() {
        if i > 0 {
            out.push(sep);
        }
        let member = after_collection
            && !seg.is_empty()
            && !matches!(seg, "+" | "#" | "*")
            && !is_in(ACTIONS, seg)
            && !is_version(seg);
        if member {
            out.push('+');
        } else {
            out.push_str(seg);
        }
        after_collection = !member && is_in(COLLECTIONS, seg);
    }
    out
}

/// A URL path with the members of collections masked: `/api/v1/recognition/subjects/Jane`
/// → `/api/v1/recognition/subjects/+`; `/api/v1/Faces/Search` is kept.
pub fn path(p: &str) -> String {
    mask(p, '/')
}

/// An MQTT topic or topic filter, the same way: `double-take/matches/jane` →
/// `double-take/matches/+`.
pub fn topic(t: &str) -> String {
    mask(t, '/')
}

/// Whether a query or form key's value names or numbers a person.
pub fn identifying_key(key: &str) -> bool {
    let k: String = key.chars().filter(|c| *c != '_' && *c != '-').collect();
    is_in(IDENTIFYING_KEYS, &k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_of_collections_are_masked_and_actions_kept() {
        for (raw, shown) in [
            (
                "/api/v1/recognition/subjects/Jane%20Doe",
                "/api/v1/recognition/subjects/+",
            ),
            (
                "/api/v1/recognition/faces/42/verify",
                "/api/v1/recognition/faces/+/verify",
            ),
            ("/api/v1/Faces/Search", "/api/v1/Faces/Search"),
            (
                "/api/v1/WatchlistMembers/7f3e",
                "/api/v1/WatchlistMembers/+",
            ),
            (
                "/ISAPI/Intelligent/FDLib/FDSearch",
                "/ISAPI/Intelligent/FDLib/FDSearch",
            ),
            (
                "/face/v1.0/persongroups/staff/persons/abc",
                "/face/v1.0/persongroups/+/persons/+",
            ),
            (
                "/api/v1/recognition/recognize",
                "/api/v1/recognition/recognize",
            ),
        ] {
            assert_eq!(path(raw), shown, "{raw}");
        }
        assert_eq!(
            topic("double-take/matches/person_a"),
            "double-take/matches/+"
        );
        assert_eq!(topic("double-take/matches/#"), "double-take/matches/#");
        assert_eq!(
            topic("frigate/front/person/snapshot"),
            "frigate/front/person/snapshot"
        );
        assert_eq!(topic("frigate/events"), "frigate/events");
        assert!(identifying_key("person_id") && identifying_key("subject"));
        assert!(!identifying_key("limit") && !identifying_key("face_plugins"));
    }
}
