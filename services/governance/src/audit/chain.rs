//! The hash chain itself: the exact bytes hashed ([`Fields::bytes`]) and the verification of a
//! chain ([`Verifier`], [`verify`]). No database, no clock: what is written here is what
//! `proto/terrace/governance/v1/audit.proto` promises, so anyone holding the entries can check
//! them the same way.

use std::fmt;

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};
use terrace_proto::common::v1 as common;
use terrace_proto::governance::v1 as pb;

/// The first field of the bytes hashed: the version of this encoding.
pub const TAG: &str = "terrace.governance.audit.v1";

/// The previous hash of a chain's first entry, and the head hash of an empty chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What is hashed of one entry, each field as the contract writes it.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    /// The chain's 12 digits.
    pub chain: &'a str,
    pub sequence: i64,
    pub previous_hash: &'a str,
    pub time: DateTime<Utc>,
    /// `ActorKind` by its value name.
    pub actor_kind: &'a str,
    pub actor_user_id: &'a str,
    pub actor_on_behalf_of: &'a str,
    pub actor_agency_client_id: &'a str,
    pub actor_system_component: &'a str,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    /// The area's 12 digits.
    pub area: &'a str,
    pub details_json: &'a str,
}

/// A time as it is hashed: RFC 3339, UTC, six fractional digits, `Z`.
pub fn time_text(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// `time` cut to the microsecond: what PostgreSQL keeps, so what is hashed.
pub fn to_micros(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(time.timestamp_micros()).unwrap_or(time)
}

impl Fields<'_> {
    /// The bytes hashed: every field as its length in bytes (u64, big-endian) and its UTF-8
    /// bytes, in the contract's order. The length prefix makes the encoding unambiguous: no two
    /// different entries have the same bytes, whatever their texts contain.
    pub fn bytes(&self) -> Vec<u8> {
        let sequence = self.sequence.to_string();
        let time = time_text(self.time);
        let fields: [&str; 15] = [
            TAG,
            self.chain,
            &sequence,
            self.previous_hash,
            &time,
            self.actor_kind,
            self.actor_user_id,
            self.actor_on_behalf_of,
            self.actor_agency_client_id,
            self.actor_system_component,
            self.action,
            self.target_type,
            self.target_id,
            self.area,
            self.details_json,
        ];
        let mut bytes = Vec::with_capacity(fields.iter().map(|f| f.len() + 8).sum());
        for field in fields {
            bytes.extend_from_slice(&(field.len() as u64).to_be_bytes());
            bytes.extend_from_slice(field.as_bytes());
        }
        bytes
    }

    /// Lower-case hex SHA-256 of [`Fields::bytes`].
    pub fn hash(&self) -> String {
        hex(&Sha256::digest(self.bytes()))
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// The first thing wrong with a chain, at the entry [`Break::sequence`] names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The first broken entry: the one edited or out of place, or the first one missing.
    pub sequence: i64,
    pub problem: Problem,
}

/// Why a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The entry's contents do not hash to its hash: it was edited.
    Edited,
    /// The entry does not follow the one before it (its `previous_hash` is another entry's):
    /// entries were reordered, or one was replaced.
    Reordered,
    /// This sequence number is missing (the next entry present is `found`): deleted.
    Missing { found: i64 },
    /// An entry came after a later one (`found` after `sequence - 1`): the list is out of order.
    OutOfOrder { found: i64 },
    /// The chain ends before its head (`head`): the entries from here on were deleted.
    Truncated { head: i64 },
    /// The last entry is the head's sequence but not its hash: the chain was rewritten.
    HeadMismatch,
    /// The entry belongs to another chain.
    WrongChain { found: String },
    /// The entry cannot be read as one (no time, no area, an unknown actor kind).
    Malformed(&'static str),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Edited => f.write_str("its contents do not match its hash (edited)"),
            Problem::Reordered => f.write_str(
                "its previous_hash is not the hash of the entry before it (reordered or replaced)",
            ),
            Problem::Missing { found } => {
                write!(f, "it is missing; the next entry is {found} (deleted)")
            }
            Problem::OutOfOrder { found } => write!(f, "entry {found} came in its place"),
            Problem::Truncated { head } => write!(
                f,
                "the chain ends before its head {head} (entries at the end deleted)"
            ),
            Problem::HeadMismatch => f.write_str("its hash is not the chain head's (rewritten)"),
            Problem::WrongChain { found } => write!(f, "it belongs to chain {found}"),
            Problem::Malformed(what) => write!(f, "it is malformed: {what}"),
        }
    }
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "entry {}: {}", self.sequence, self.problem)
    }
}

/// The answer of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every entry checked follows the one before it and hashes to its hash, from 1 to the head.
    Intact { entries: u64, head_hash: String },
    /// The first broken entry.
    Broken(Break),
}

/// Checks a chain entry by entry, in sequence order, from its first entry; pages can be pushed
/// as they are read. Checks, for each entry in turn: its sequence is the next one (else an entry
/// is missing), it is of this chain, its `previous_hash` is the hash of the entry before it (else
/// reordered), and its contents hash to its `hash` (else edited).
#[derive(Debug, Clone)]
pub struct Verifier {
    chain: String,
    next: i64,
    previous_hash: String,
    broken: Option<Break>,
}

impl Verifier {
    /// A verifier of the chain whose 12 digits are `chain`.
    pub fn new(chain: &str) -> Self {
        Self {
            chain: chain.to_owned(),
            next: 1,
            previous_hash: GENESIS.to_owned(),
            broken: None,
        }
    }

    /// Checks the next entry; after the first break, nothing more is checked.
    pub fn push(&mut self, entry: &pb::AuditEntry) {
        if self.broken.is_some() {
            return;
        }
        match self.check(entry) {
            Ok(()) => {
                self.next = entry.sequence + 1;
                self.previous_hash.clone_from(&entry.hash);
            }
            Err(broken) => self.broken = Some(broken),
        }
    }

    fn check(&self, entry: &pb::AuditEntry) -> Result<(), Break> {
        let at = |problem| Break {
            sequence: entry.sequence,
            problem,
        };
        if entry.sequence > self.next {
            return Err(Break {
                sequence: self.next,
                problem: Problem::Missing {
                    found: entry.sequence,
                },
            });
        }
        if entry.sequence < self.next {
            return Err(Break {
                sequence: self.next,
                problem: Problem::OutOfOrder {
                    found: entry.sequence,
                },
            });
        }
        let chain = entry.chain.as_ref().map_or("", |c| c.code.as_str());
        if chain != self.chain {
            return Err(at(Problem::WrongChain {
                found: chain.to_owned(),
            }));
        }
        if entry.previous_hash != self.previous_hash {
            return Err(at(Problem::Reordered));
        }
        let fields = fields_of(entry).map_err(|what| at(Problem::Malformed(what)))?;
        if fields.hash() != entry.hash {
            return Err(at(Problem::Edited));
        }
        Ok(())
    }

    /// The verdict, given the chain's head as read with (or before) the entries: a chain that
    /// ends before its head lost its last entries; `None` checks only the entries.
    pub fn finish(self, head: Option<(i64, &str)>) -> Verdict {
        if let Some(broken) = self.broken {
            return Verdict::Broken(broken);
        }
        let last = self.next - 1;
        if let Some((head, hash)) = head {
            if last < head {
                return Verdict::Broken(Break {
                    sequence: self.next,
                    problem: Problem::Truncated { head },
                });
            }
            if last == head && self.previous_hash != hash {
                return Verdict::Broken(Break {
                    sequence: last,
                    problem: Problem::HeadMismatch,
                });
            }
        }
        Verdict::Intact {
            entries: u64::try_from(last).unwrap_or(0),
            head_hash: self.previous_hash,
        }
    }
}

/// Verifies the whole chain `chain` (12 digits) given as `entries` in sequence order, against
/// its head when known.
pub fn verify(chain: &str, entries: &[pb::AuditEntry], head: Option<(i64, &str)>) -> Verdict {
    let mut verifier = Verifier::new(chain);
    for entry in entries {
        verifier.push(entry);
    }
    verifier.finish(head)
}

/// The fields hashed of an entry as the contract carries it.
fn fields_of(entry: &pb::AuditEntry) -> Result<Fields<'_>, &'static str> {
    let time = entry
        .time
        .as_ref()
        .and_then(|t| {
            let nanos = u32::try_from(t.nanos).ok()?;
            DateTime::from_timestamp(t.seconds, nanos)
        })
        .ok_or("no valid time")?;
    let actor = entry.actor.as_ref().ok_or("no actor")?;
    let kind = common::ActorKind::try_from(actor.kind).map_err(|_| "unknown actor kind")?;
    Ok(Fields {
        chain: entry.chain.as_ref().map_or("", |c| c.code.as_str()),
        sequence: entry.sequence,
        previous_hash: &entry.previous_hash,
        time,
        actor_kind: kind.as_str_name(),
        actor_user_id: &actor.user_id,
        actor_on_behalf_of: &actor.on_behalf_of_user_id,
        actor_agency_client_id: &actor.agency_client_id,
        actor_system_component: &actor.system_component,
        action: &entry.action,
        target_type: &entry.target_type,
        target_id: &entry.target_id,
        area: entry.area.as_ref().map_or("", |a| a.code.as_str()),
        details_json: &entry.details_json,
    })
}

#[cfg(test)]
mod tests {
    use terrace_platform::validate::to_timestamp;

    use super::*;

    const CHAIN: &str = "330523000000";

    fn time(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + second, 123_456_000).unwrap()
    }

    /// A chain of `n` well-formed entries.
    fn chain(n: i64) -> Vec<pb::AuditEntry> {
        let mut previous = GENESIS.to_owned();
        (1..=n)
            .map(|sequence| {
                let mut entry = pb::AuditEntry {
                    sequence,
                    time: Some(to_timestamp(time(sequence))),
                    actor: Some(common::Actor {
                        kind: common::ActorKind::User as i32,
                        user_id: format!("user-{sequence}"),
                        ..Default::default()
                    }),
                    action: "resident.updated".to_owned(),
                    target_type: "resident".to_owned(),
                    target_id: format!("r{sequence}"),
                    area: Some(common::AdminCode {
                        code: "330523108204".to_owned(),
                        level: common::AdminLevel::Village as i32,
                    }),
                    details_json: format!(r#"{{"n":{sequence}}}"#),
                    previous_hash: previous.clone(),
                    hash: String::new(),
                    chain: Some(common::AdminCode {
                        code: CHAIN.to_owned(),
                        level: common::AdminLevel::County as i32,
                    }),
                };
                entry.hash = fields_of(&entry).unwrap().hash();
                previous.clone_from(&entry.hash);
                entry
            })
            .collect()
    }

    fn head(entries: &[pb::AuditEntry]) -> Option<(i64, &str)> {
        entries.last().map(|e| (e.sequence, e.hash.as_str()))
    }

    #[test]
    fn the_bytes_are_length_prefixed_fields_in_the_contracts_order() {
        let fields = Fields {
            chain: CHAIN,
            sequence: 42,
            previous_hash: GENESIS,
            time: time(0),
            actor_kind: "ACTOR_KIND_USER",
            actor_user_id: "u",
            actor_on_behalf_of: "",
            actor_agency_client_id: "",
            actor_system_component: "",
            action: "a.b",
            target_type: "t",
            target_id: "1",
            area: "330523108204",
            details_json: "{}",
        };
        let bytes = fields.bytes();
        let mut expected = Vec::new();
        for field in [
            TAG,
            CHAIN,
            "42",
            GENESIS,
            "2027-01-15T08:00:00.123456Z",
            "ACTOR_KIND_USER",
            "u",
            "",
            "",
            "",
            "a.b",
            "t",
            "1",
            "330523108204",
            "{}",
        ] {
            expected.extend_from_slice(&(field.len() as u64).to_be_bytes());
            expected.extend_from_slice(field.as_bytes());
        }
        assert_eq!(bytes, expected);
        assert_eq!(fields.hash().len(), 64);
        // Moving text from one field to the next changes the bytes (the length prefixes).
        let shifted = Fields {
            action: "a",
            target_type: ".bt",
            ..fields
        };
        assert_ne!(shifted.hash(), fields.hash());
    }

    #[test]
    fn a_good_chain_is_intact_and_each_kind_of_tampering_names_its_first_entry() {
        let good = chain(5);
        assert_eq!(
            verify(CHAIN, &good, head(&good)),
            Verdict::Intact {
                entries: 5,
                head_hash: good[4].hash.clone()
            }
        );
        assert_eq!(
            verify(CHAIN, &[], Some((0, GENESIS))),
            Verdict::Intact {
                entries: 0,
                head_hash: GENESIS.to_owned()
            }
        );
        let broken = |entries: &[pb::AuditEntry]| match verify(CHAIN, entries, head(&good)) {
            Verdict::Broken(broken) => broken,
            intact => panic!("not detected: {intact:?}"),
        };

        let mut edited = good.clone();
        edited[2].details_json = r#"{"n":99}"#.to_owned();
        assert_eq!(
            broken(&edited),
            Break {
                sequence: 3,
                problem: Problem::Edited
            }
        );

        let mut deleted = good.clone();
        deleted.remove(1);
        assert_eq!(
            broken(&deleted),
            Break {
                sequence: 2,
                problem: Problem::Missing { found: 3 }
            }
        );

        // Two entries' contents swapped, each keeping its place's sequence.
        let mut swapped = good.clone();
        let (second, third) = (swapped[1].clone(), swapped[2].clone());
        swapped[1] = pb::AuditEntry {
            sequence: 2,
            ..third
        };
        swapped[2] = pb::AuditEntry {
            sequence: 3,
            ..second
        };
        assert_eq!(
            broken(&swapped),
            Break {
                sequence: 2,
                problem: Problem::Reordered
            }
        );

        let truncated = &good[..3];
        assert_eq!(
            broken(truncated),
            Break {
                sequence: 4,
                problem: Problem::Truncated { head: 5 }
            }
        );

        // Rewritten from entry 4 with fresh hashes: only the head shows it.
        let mut rewritten = good.clone();
        rewritten[4].details_json = "{}".to_owned();
        rewritten[4].hash = fields_of(&rewritten[4]).unwrap().hash();
        assert_eq!(
            broken(&rewritten),
            Break {
                sequence: 5,
                problem: Problem::HeadMismatch
            }
        );

        let mut elsewhere = good.clone();
        elsewhere[0].chain = Some(common::AdminCode {
            code: "330522000000".to_owned(),
            level: common::AdminLevel::County as i32,
        });
        assert_eq!(broken(&elsewhere).sequence, 1);

        let mut timeless = good.clone();
        timeless[3].time = None;
        assert_eq!(
            broken(&timeless),
            Break {
                sequence: 4,
                problem: Problem::Malformed("no valid time")
            }
        );
    }

    #[test]
    fn times_are_hashed_to_the_microsecond_in_utc() {
        let time = DateTime::from_timestamp(1_800_000_000, 123_456_789).unwrap();
        assert_eq!(time_text(to_micros(time)), "2027-01-15T08:00:00.123456Z");
        assert_eq!(
            time_text(DateTime::from_timestamp(0, 0).unwrap()),
            "1970-01-01T00:00:00.000000Z"
        );
    }
}
